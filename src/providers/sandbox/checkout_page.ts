/**
 * The sandbox checkout pages: the page behind `authorization_url` (amount,
 * reference, email, Pay / Decline) and the small pages answering a form
 * submission. Plain HTML, no scripts or external assets, and every value
 * escaped: references, emails and metadata come from callers.
 *
 * @module
 */
import type { SandboxTransaction } from "./sandbox_store.ts";

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/**
 * Formats minor units in a currency without passing through a float: the
 * decimal string is built from the integer, and Intl only lays it out.
 *
 * @example
 * ```ts
 * formatMinorUnits(1_234_56, "NGN"); // "NGN 1,234.56"
 * ```
 */
export function formatMinorUnits(amount: number, currency: string): string {
  let digits = 2;
  let format: Intl.NumberFormat | null = null;
  try {
    format = new Intl.NumberFormat("en", { style: "currency", currency, currencyDisplay: "code" });
    digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    // not a code Intl knows: fall back to two decimals and the bare code
  }
  const sign = amount < 0 ? "-" : "";
  const units = String(Math.abs(amount)).padStart(digits + 1, "0");
  const decimal = digits === 0 ? units : `${units.slice(0, -digits)}.${units.slice(-digits)}`;
  // Intl.NumberFormat formats decimal strings exactly (no float rounding).
  const formatted = format ? format.format(`${sign}${decimal}` as unknown as number) : `${currency} ${sign}${decimal}`;
  return formatted.replace(/\u00a0/g, " ");
}

function _layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
.card{border:1px solid #ddd;border-radius:.5rem;padding:1.5rem}
.amount{font-size:2rem;font-weight:600;margin:.5rem 0}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}dt{color:#666}dd{margin:0;word-break:break-all}
button{font-size:1rem;padding:.6rem 1.2rem;margin-right:.5rem;border-radius:.3rem;border:1px solid #888;cursor:pointer}
.pay{background:#0a7d32;color:#fff;border-color:#0a7d32}.note{color:#666;font-size:.85rem}
</style>
</head>
<body>
<div class="card">
${body}
</div>
<p class="note">Sandbox Paystack: no real money moves.</p>
</body>
</html>
`;
}

function _details(t: SandboxTransaction): string {
  return `<dl>
<dt>Reference</dt><dd data-field="reference">${escapeHtml(t.reference)}</dd>
<dt>Email</dt><dd data-field="email">${escapeHtml(t.email)}</dd>
</dl>`;
}

/**
 * The checkout page of a transaction that can still be paid (never paid, or
 * declined: the customer may try again); the form posts back to the same URL.
 */
export function renderCheckoutPage(t: SandboxTransaction): string {
  const retry = t.status === "failed"
    ? `<p data-field="previous-attempt">The last attempt was declined. You can try again.</p>\n`
    : "";
  return _layout(
    "Sandbox checkout",
    `<h1>Pay</h1>
${retry}<p class="amount" data-field="amount">${escapeHtml(formatMinorUnits(t.amount, t.currency))}</p>
${_details(t)}
<form method="post">
<button class="pay" type="submit" name="outcome" value="success">Pay</button>
<button type="submit" name="outcome" value="failed">Decline</button>
</form>`,
  );
}

/** The page of a transaction that is already paid or refunded (no buttons). */
export function renderSettledPage(t: SandboxTransaction): string {
  return _layout(
    "Transaction closed",
    `<h1>Transaction closed</h1>
<p>This transaction is already <strong data-field="status">${escapeHtml(t.status)}</strong>.</p>
${_details(t)}`,
  );
}

/** The answer to a Pay / Decline submission. */
export function renderResultPage(t: SandboxTransaction): string {
  const paid = t.status === "success";
  const settled = t.settledAmount !== null && t.settledCurrency !== null
    ? formatMinorUnits(t.settledAmount, t.settledCurrency)
    : formatMinorUnits(t.amount, t.currency);
  const back = t.callbackUrl === null ? null : _callback(t.callbackUrl, t.reference);
  const next = back === null ? "" : `<p><a href="${escapeHtml(back)}">Continue</a></p>`;
  return _layout(
    paid ? "Payment successful" : "Payment declined",
    `<h1>${paid ? "Payment successful" : "Payment declined"}</h1>
<p class="amount" data-field="amount">${escapeHtml(settled)}</p>
${_details(t)}
${next}`,
  );
}

/** A page for 4xx answers of the checkout routes. */
export function renderErrorPage(title: string, message: string): string {
  return _layout(title, `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(message)}</p>`);
}

/**
 * Paystack sends the customer back to `callback_url?trxref=<ref>&reference=<ref>`.
 * Only http(s) is linked: a `javascript:` URL in a link would run in this page.
 */
function _callback(callbackUrl: string, reference: string): string | null {
  try {
    const url = new URL(callbackUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    url.searchParams.set("trxref", reference);
    url.searchParams.set("reference", reference);
    return url.toString();
  } catch {
    return null;
  }
}
