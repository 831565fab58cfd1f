/**
 * A grouped bar chart as a standalone SVG (no dependencies): one group per
 * category, one bar per series, values printed on the bars.
 *
 * @module
 */

/** One series of bars. */
export interface BarSeries {
  name: string;
  color: string;
  values: number[];
}

/** What to draw. */
export interface BarChart {
  title: string;
  subtitle?: string;
  categories: string[];
  series: BarSeries[];
  yLabel: string;
}

function _escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** A "nice" axis maximum: 1, 2 or 5 × 10^n at or above `max`. */
function _niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= max) return step * magnitude;
  return 10 * magnitude;
}

/** Renders `chart` as SVG text. */
export function renderBarChart(chart: BarChart): string {
  const width = 760;
  const height = 400;
  const left = 64;
  const right = 16;
  const top = chart.subtitle ? 64 : 48;
  const bottom = 92;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = _niceMax(Math.max(0, ...chart.series.flatMap((s) => s.values.filter(Number.isFinite))));
  const groupW = plotW / Math.max(1, chart.categories.length);
  const barW = Math.min(56, (groupW * 0.8) / Math.max(1, chart.series.length));
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="24" font-size="16" font-weight="600">${_escape(chart.title)}</text>`,
  );
  if (chart.subtitle) out.push(`<text x="${left}" y="44" fill="#555">${_escape(chart.subtitle)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (max / 5) * i;
    out.push(
      `<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${Math.round(v)}</text>`,
    );
  }
  out.push(
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333">` +
      `${_escape(chart.yLabel)}</text>`,
  );
  chart.categories.forEach((category, ci) => {
    const groupX = left + ci * groupW + (groupW - barW * chart.series.length) / 2;
    chart.series.forEach((series, si) => {
      const v = series.values[ci] ?? NaN;
      if (!Number.isFinite(v)) return;
      const x = groupX + si * barW;
      out.push(
        `<rect x="${x + 2}" y="${y(v)}" width="${barW - 4}" height="${top + plotH - y(v)}" fill="${series.color}"/>`,
        `<text x="${x + barW / 2}" y="${y(v) - 4}" text-anchor="middle" fill="#333">${Math.round(v)}</text>`,
      );
    });
    out.push(
      `<text x="${left + ci * groupW + groupW / 2}" y="${top + plotH + 18}" text-anchor="middle" fill="#333">` +
        `${_escape(category)}</text>`,
    );
  });
  // The legend, wrapped onto as many rows as it needs under the plot.
  let lx = left;
  let ly = top + plotH + 40;
  for (const series of chart.series) {
    const w = 30 + series.name.length * 6.5;
    if (lx + w > width - right && lx > left) {
      lx = left;
      ly += 18;
    }
    out.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${series.color}"/>`,
      `<text x="${lx + 18}" y="${ly}" fill="#333">${_escape(series.name)}</text>`,
    );
    lx += w;
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}
