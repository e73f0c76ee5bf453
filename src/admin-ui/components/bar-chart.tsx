/**
 * Issuance per day as an inline SVG bar chart. Screen readers get a title and a summary (role="img"),
 * and everyone can open the same numbers as a table.
 */
import { useId } from 'preact/hooks';

export interface Bar {
  day: string;
  count: number;
}

const W = 640;
const H = 220;
const PAD = { top: 12, right: 10, bottom: 30, left: 38 };

function niceMax(n: number): number {
  if (n <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= n) return step * magnitude;
  return 10 * magnitude;
}

function shortDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? day : d.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

export function BarChart({ title, bars }: { title: string; bars: Bar[] }) {
  const id = useId();
  const total = bars.reduce((s, b) => s + b.count, 0);
  const peak = bars.reduce<Bar | undefined>((p, b) => (!p || b.count > p.count ? b : p), undefined);
  const max = niceMax(peak?.count ?? 0);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = bars.length ? plotW / bars.length : plotW;
  const barW = Math.max(2, slot * 0.7);
  const ticks = [0, max / 4, max / 2, (3 * max) / 4, max];
  const summary = bars.length
    ? `${total} certificate${total === 1 ? '' : 's'} issued from ${shortDay(bars[0]!.day)} to ${shortDay(bars[bars.length - 1]!.day)}` +
      (peak && peak.count > 0 ? `; the most, ${peak.count}, on ${shortDay(peak.day)}.` : '.')
    : 'No data.';
  return (
    <figure class="chart" data-testid="issuance-chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-t ${id}-d`} preserveAspectRatio="xMidYMid meet">
        <title id={`${id}-t`}>{title}</title>
        <desc id={`${id}-d`}>{summary}</desc>
        {ticks.map((t) => {
          const y = PAD.top + plotH - (t / max) * plotH;
          return (
            <g key={t} class="tick">
              <line x1={PAD.left} x2={W - PAD.right} y1={y} y2={y} />
              <text x={PAD.left - 6} y={y + 4} text-anchor="end">
                {Number.isInteger(t) ? t : t.toFixed(1)}
              </text>
            </g>
          );
        })}
        {bars.map((b, i) => {
          const h = (b.count / max) * plotH;
          const x = PAD.left + i * slot + (slot - barW) / 2;
          return (
            <g key={b.day}>
              <rect class="bar" x={x} y={PAD.top + plotH - h} width={barW} height={Math.max(h, b.count ? 1 : 0)} rx={1.5}>
                <title>{`${shortDay(b.day)}: ${b.count}`}</title>
              </rect>
              {(bars.length - 1 - i) % 7 === 0 ? (
                <text class="axis-label" x={i === bars.length - 1 ? x + barW : x + barW / 2} y={H - 8} text-anchor={i === bars.length - 1 ? 'end' : 'middle'}>
                  {shortDay(b.day)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption>{summary}</figcaption>
      <details class="chart-data">
        <summary>Show the numbers as a table</summary>
        <table>
          <caption class="visually-hidden">{title}</caption>
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col" class="num">Issued</th>
            </tr>
          </thead>
          <tbody>
            {bars.map((b) => (
              <tr key={b.day}>
                <th scope="row">{b.day}</th>
                <td class="num">{b.count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
