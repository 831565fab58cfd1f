/**
 * The service in a real browser: headless Chromium (Debian's `chromium`,
 * driven by `playwright-core` with `executablePath`) against the running
 * local stack. It renders `/docs` from `/openapi.json`, and pays and declines
 * at the sandbox checkout page the way a customer would, clicking its
 * buttons; the wallet is then read through the API.
 *
 * Without a Chromium the test is skipped with the reason printed, unless
 * `REQUIRE_SERVICES=1` (CI, where `.ci/run` installs it), which makes that
 * a failure. Screenshots go to the git-ignored `.data/screenshots/`.
 *
 * Every wait is on an event (a selector appearing, a response, the sandbox's
 * webhook queue draining), never on time.
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { servicesRequired } from "../support/services.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { expectJson, send } from "../support/http_helpers.ts";
import { createPayment } from "../support/payment_flow.ts";

const SCREENSHOTS = new URL("../../.data/screenshots/", import.meta.url);
const NAME = "browser: /docs renders the API reference; checkout Pay credits the wallet, Decline fails the payment";

/** The Chromium to drive: `CHROMIUM_PATH`, else Debian's, else none. */
async function chromiumPath(): Promise<string | null> {
  const candidates = [Deno.env.get("CHROMIUM_PATH"), "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  for (const path of candidates) {
    if (!path) continue;
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch {
      // not there
    }
  }
  return null;
}

const executablePath = await chromiumPath();
if (!executablePath && !servicesRequired()) {
  console.log(
    `skipped "${NAME}": no Chromium (set CHROMIUM_PATH, or apt-get install chromium); ` +
      "REQUIRE_SERVICES=1 makes this a failure",
  );
}

async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: true });
}

async function walletBalance(stack: TestStack, token: string): Promise<number> {
  const wallet = await expectJson<{ balances: Array<{ currency: string; balance: number }> }>(
    await send(stack, "GET", "/v1/wallet", { token }),
    200,
  );
  return wallet.balances.find((b) => b.currency === "NGN")?.balance ?? 0;
}

Deno.test({
  name: NAME,
  ignore: !executablePath && !servicesRequired(),
  fn: async (t) => {
    assert.ok(executablePath, "REQUIRE_SERVICES=1 but no Chromium: install it (apt-get install chromium)");
    const stack = await startTestStack();
    let browser: Browser | undefined;
    try {
      // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
      browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
      const page = await browser.newPage();

      await t.step("/docs renders the reference of every operation in /openapi.json", async () => {
        const spec = await expectJson<{ paths: Record<string, Record<string, unknown>> }>(
          await stack.request("/openapi.json"),
          200,
        );
        const operations = Object.values(spec.paths).reduce((n, item) => n + Object.keys(item).length, 0);
        await page.goto(`${stack.url}/docs`);
        await page.locator(".swagger-ui .info .title", { hasText: "SMS payments API" }).waitFor();
        await page.locator(".opblock-summary-path[data-path='/v1/payments']").first().waitFor();
        assert.equal(await page.locator(".opblock").count(), operations);
        // The problem codes of an operation are there once it is opened.
        await page.locator("#operations-payments-post_v1_payments .opblock-summary").click();
        await page.locator("#operations-payments-post_v1_payments", { hasText: "idempotency_key_in_use" }).waitFor();
        await screenshot(page, "docs");
      });

      await t.step("Pay at the checkout: success page, then the wallet is credited once", async () => {
        const payment = await createPayment(stack, { amount: 250_000 });
        assert.equal(await walletBalance(stack, payment.token), 0);
        await page.goto(payment.authorizationUrl);
        await page.locator("h1", { hasText: "Pay" }).waitFor();
        assert.match(await page.locator("[data-field=amount]").innerText(), /NGN 2,500\.00/);
        await screenshot(page, "checkout");
        await page.getByRole("button", { name: "Pay" }).click();
        await page.locator("h1", { hasText: "Payment successful" }).waitFor();
        await screenshot(page, "checkout-paid");
        await stack.runtime.sandbox!.idle(); // the signed charge.success webhook was delivered
        assert.equal(await walletBalance(stack, payment.token), 250_000);
        const paid = await expectJson(
          await send(stack, "GET", `/v1/payments/${payment.reference}`, { token: payment.token }),
          200,
        );
        assert.equal(paid.state, "completed");
      });

      await t.step("Decline at the checkout: declined page, the payment ends failed, nothing credited", async () => {
        const payment = await createPayment(stack, { amount: 120_000 });
        await page.goto(payment.authorizationUrl);
        await page.getByRole("button", { name: "Decline" }).click();
        await page.locator("h1", { hasText: "Payment declined" }).waitFor();
        await screenshot(page, "checkout-declined");
        await stack.runtime.sandbox!.idle();
        // As on Paystack a decline sends no webhook: the client's verify learns it.
        const verified = await expectJson(
          await send(stack, "POST", `/v1/payments/${payment.reference}/verify`, { token: payment.token }),
          200,
        );
        assert.equal(verified.state, "failed");
        assert.equal(await walletBalance(stack, payment.token), 0);
      });
    } finally {
      await browser?.close();
      await stack.close();
    }
  },
});
