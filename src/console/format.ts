/** How the console writes amounts and times: roubles from kopecks, and UTC times that say they are UTC. Pure. */

const RUB = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'RUB', minimumFractionDigits: 2 });
const COMPACT = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

/** 123456 kopecks → "RUB 1,234.56". */
export function rub(kopecks: number): string {
  return RUB.format(kopecks / 100);
}

/** An axis label: 1234567 kopecks → "12.3K ₽". */
export function rubShort(kopecks: number): string {
  return `${COMPACT.format(kopecks / 100)} ₽`;
}

/** "2025-03-01T12:34:56.789Z" → "2025-03-01 12:34:56 UTC"; anything unreadable as it is. */
export function utc(at: string | number | null | undefined): string {
  if (at === null || at === undefined || at === '') return '';
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return String(at);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** To the millisecond, for a timeline where many things happen within a second: "2025-03-01 12:34:56.789 UTC". */
export function utcMs(at: string): string {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? at : `${d.toISOString().slice(0, 23).replace('T', ' ')} UTC`;
}

/** The hour an ISO time starts: "13:00". */
export function hourOf(at: string): string {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? at : `${String(d.getUTCHours()).padStart(2, '0')}:00`;
}

/** How long ago, roughly: "45 s", "12 min", "5 h", "3 d". */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 2 * 3600) return `${Math.floor(s / 60)} min`;
  if (s < 2 * 86_400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

/** A payout state as words: "awaiting_review" → "awaiting review". */
export function stateText(state: string): string {
  return state.replaceAll('_', ' ');
}
