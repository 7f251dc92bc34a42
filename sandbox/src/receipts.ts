import type { ProfessionalIncomeTaxpayer, SandboxSession } from './session-types.js';
import { receiptLink } from './wire-format.js';

/**
 * A self-employed payout's receipt (чек НПД), as GET /sandbox/receipts/:id shows it: the link a
 * succeeded fiscalized payout carries in fiscalization_details.professional_income_taxpayer.receipt.
 * The real one is issued by the tax service's app; this page only shows what such a receipt says.
 */

export interface ReceiptView {
  id: string;
  link: string | null;
  session_id: string;
  payout_id: string;
  /** When the income was received: the payout's finish. */
  issued_at: string;
  tax_reference: string;
  payer_type: string | null;
  payer_tax_number: string | null;
  payer_name: string | null;
  services: Array<{ name: string; amount_details: { amount: number; currency: string }; quantity: number }>;
  total: { amount: number; currency: string };
  /** Returned by the card's bank since (POST /sandbox/sessions/:id/refund). */
  returned: { amount: number; currency: string };
}

export function receiptView(
  receiptId: string,
  session: SandboxSession,
  taxpayer: ProfessionalIncomeTaxpayer,
  baseUrl: string | undefined,
): ReceiptView {
  const payout = session.payout!;
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  const currency = payout.amountDetails.currency;
  return {
    id: receiptId,
    link: baseUrl ? receiptLink(baseUrl, receiptId) : null,
    session_id: session.id,
    payout_id: payout.id,
    issued_at: payout.finishedAt ?? session.updatedAt,
    tax_reference: taxpayer.tax_reference,
    payer_type: text(taxpayer.payer_type),
    payer_tax_number: text(taxpayer.payer_tax_number),
    payer_name: text(taxpayer.payer_name),
    services: taxpayer.services.map((s) => ({ name: s.name, amount_details: s.amount_details, quantity: s.quantity })),
    total: { amount: payout.amountDetails.amount, currency },
    returned: { amount: (payout.refunds ?? []).reduce((sum, r) => sum + r.amount, 0), currency },
  };
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Kopecks as roubles with a comma, the way a Russian receipt prints them: 1 234,50. */
function money(amount: number, currency: string): string {
  const roubles = Math.trunc(amount / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0');
  return `${roubles},${String(Math.abs(amount) % 100).padStart(2, '0')} ${currency.toUpperCase() === 'RUB' ? '₽' : escapeHtml(currency.toUpperCase())}`;
}

const PAYER_TYPES: Record<string, string> = {
  legal: 'юридическое лицо / legal entity',
  individual: 'физическое лицо / individual',
  foreign: 'иностранная организация / foreign organisation',
};

/** The receipt as a small page of its own: no scripts, no outside resources. */
export function receiptHtml(r: ReceiptView): string {
  const rows = r.services
    .map(
      (s, i) =>
        `<tr><td>${i + 1}</td><td>${escapeHtml(s.name)}</td><td class="n">${s.quantity}</td>` +
        `<td class="n">${money(s.amount_details.amount, s.amount_details.currency)}</td>` +
        `<td class="n">${money(s.amount_details.amount * s.quantity, s.amount_details.currency)}</td></tr>`,
    )
    .join('\n        ');
  const payer = [
    r.payer_name && `<div><dt>Покупатель / Payer</dt><dd>${escapeHtml(r.payer_name)}</dd></div>`,
    r.payer_type && `<div><dt>Тип покупателя / Payer type</dt><dd>${escapeHtml(PAYER_TYPES[r.payer_type] ?? r.payer_type)}</dd></div>`,
    r.payer_tax_number && `<div><dt>ИНН покупателя / Payer tax number</dt><dd>${escapeHtml(r.payer_tax_number)}</dd></div>`,
  ]
    .filter(Boolean)
    .join('\n      ');
  const returned =
    r.returned.amount > 0
      ? `\n    <p class="returned">Возвращено банком получателя / Returned by the card's bank: ${money(r.returned.amount, r.returned.currency)}</p>`
      : '';
  return `<!doctype html>
<html lang="ru">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Чек ${escapeHtml(r.id)}</title>
    <style>
      body { font: 15px/1.4 system-ui, sans-serif; color: #1b1f24; max-width: 40em; margin: 2em auto; padding: 0 1em; }
      h1 { font-size: 1.3em; margin: 0 0 0.2em; }
      .sub { color: #6b7480; margin: 0 0 1.2em; }
      dl div { display: flex; gap: 1em; } dt { color: #4a5361; min-width: 14em; } dd { margin: 0; }
      table { width: 100%; border-collapse: collapse; margin: 1.2em 0; }
      th, td { border-bottom: 1px solid #d8dde4; padding: 0.4em; text-align: left; } .n { text-align: right; white-space: nowrap; }
      .total { font-weight: 600; font-size: 1.1em; } .returned { color: #c62828; }
    </style>
  </head>
  <body>
    <h1>Чек № ${escapeHtml(r.id)} / Receipt</h1>
    <p class="sub">Налог на профессиональный доход (самозанятый) · Bank 131 sandbox: not a real receipt</p>
    <dl>
      <div><dt>Дата / Date</dt><dd><time datetime="${escapeHtml(r.issued_at)}">${escapeHtml(r.issued_at)}</time></dd></div>
      <div><dt>ИНН самозанятого / Taxpayer</dt><dd>${escapeHtml(r.tax_reference)}</dd></div>
      ${payer}
      <div><dt>Выплата / Payout</dt><dd>${escapeHtml(r.payout_id)} (${escapeHtml(r.session_id)})</dd></div>
    </dl>
    <table>
      <thead>
        <tr><th>№</th><th>Услуга / Service</th><th class="n">Кол-во / Qty</th><th class="n">Цена / Price</th><th class="n">Сумма / Amount</th></tr>
      </thead>
      <tbody>
        ${rows}
      </tbody>
    </table>
    <p class="total">Итого / Total: ${money(r.total.amount, r.total.currency)}</p>${returned}
  </body>
</html>
`;
}
