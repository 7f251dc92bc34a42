/**
 * The card form's words, in Russian (the default) and English: its labels, and what the form says
 * in the browser (handed to sandbox/assets/frame.js as JSON). Keys of the form `<field>.<code>` name
 * a field's refusal (sandbox/src/widget-card.ts FieldError).
 */
export type Locale = 'ru' | 'en';

export const STRINGS: Record<Locale, Record<string, string>> = {
  ru: {
    title: 'Данные карты',
    card_number: 'Номер карты',
    expiry: 'Срок действия',
    expiry_placeholder: 'ММ/ГГ',
    security_code: 'CVC',
    cardholder_name: 'Имя на карте (необязательно)',
    cardholder_name_placeholder: 'IVAN IVANOV',
    submit: 'Сохранить карту',
    sending: 'Сохраняем…',
    done: 'Карта •••• {last4} сохранена',
    'card_number.required': 'Введите номер карты',
    'card_number.invalid': 'Номер карты — от 13 до 19 цифр',
    'card_number.luhn': 'В номере карты ошибка, проверьте его',
    'expiry.required': 'Введите срок действия',
    'expiry.invalid': 'Срок действия в формате ММ/ГГ',
    'expiry.expired': 'Срок действия карты истёк',
    'security_code.required': 'Введите CVC',
    'security_code.invalid': 'CVC — 3 или 4 цифры',
    'cardholder_name.invalid': 'Имя латиницей, как на карте',
    public_token_used: 'Эта форма уже использована. Обновите страницу.',
    public_token_unknown: 'Форма недействительна. Обновите страницу.',
    network_error: 'Не удалось связаться с банком. Попробуйте ещё раз.',
    internal_error: 'Банк не смог обработать карту. Попробуйте ещё раз.',
  },
  en: {
    title: 'Card details',
    card_number: 'Card number',
    expiry: 'Expiry date',
    expiry_placeholder: 'MM/YY',
    security_code: 'CVC',
    cardholder_name: 'Name on card (optional)',
    cardholder_name_placeholder: 'IVAN IVANOV',
    submit: 'Save card',
    sending: 'Saving…',
    done: 'Card •••• {last4} saved',
    'card_number.required': 'Enter the card number',
    'card_number.invalid': 'A card number has 13 to 19 digits',
    'card_number.luhn': 'The card number has a typo, please check it',
    'expiry.required': 'Enter the expiry date',
    'expiry.invalid': 'Expiry date as MM/YY',
    'expiry.expired': 'The card has expired',
    'security_code.required': 'Enter the CVC',
    'security_code.invalid': 'The CVC is 3 or 4 digits',
    'cardholder_name.invalid': 'The name in Latin letters, as on the card',
    public_token_used: 'This form was already used. Please reload the page.',
    public_token_unknown: 'This form is not valid. Please reload the page.',
    network_error: 'Could not reach the bank. Please try again.',
    internal_error: 'The bank could not process the card. Please try again.',
  },
};

/**
 * The self-employed widget's words (sandbox/assets/self-employed-frame.html and its script): what
 * the person is asked to allow, and what the frame says afterwards. Keys named like an error code
 * are that error's text.
 */
export const SELF_EMPLOYED_STRINGS: Record<Locale, Record<string, string>> = {
  ru: {
    title: 'Регистрация дохода самозанятого',
    heading: 'Разрешите Банку 131 регистрировать ваш доход',
    explain:
      'Разрешите Банку 131 регистрировать ваш доход как самозанятого: банк будет сам формировать чеки в «Мой налог» за выплаты, которые вы получаете здесь. Отозвать разрешение можно в приложении «Мой налог».',
    tax_reference: 'ИНН',
    submit: 'Разрешить',
    sending: 'Отправляем…',
    done: 'Готово: Банк 131 может регистрировать ваш доход.',
    already: 'Разрешение уже выдано: Банк 131 регистрирует ваш доход.',
    taxpayer_unknown: 'Этот ИНН не зарегистрирован как самозанятый. Зарегистрируйтесь в приложении «Мой налог» и попробуйте снова.',
    public_token_used: 'Эта форма уже использована. Обновите страницу.',
    public_token_unknown: 'Форма недействительна. Обновите страницу.',
    network_error: 'Не удалось связаться с банком. Попробуйте ещё раз.',
    internal_error: 'Банк не смог обработать запрос. Попробуйте ещё раз.',
  },
  en: {
    title: 'Self-employed income registration',
    heading: 'Allow Bank 131 to register your income',
    explain:
      'Allow Bank 131 to register your income as self-employed: the bank will issue the receipts in “Мой налог” (My Tax) for the payouts you get here. You can withdraw this in the My Tax app.',
    tax_reference: 'Tax number (INN)',
    submit: 'Allow',
    sending: 'Sending…',
    done: 'Done: Bank 131 may now register your income.',
    already: 'Already allowed: Bank 131 registers your income.',
    taxpayer_unknown: 'This tax number is not registered as self-employed. Register in the My Tax app and try again.',
    public_token_used: 'This form was already used. Please reload the page.',
    public_token_unknown: 'This form is not valid. Please reload the page.',
    network_error: 'Could not reach the bank. Please try again.',
    internal_error: 'The bank could not process the request. Please try again.',
  },
};
