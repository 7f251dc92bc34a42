/* The collection page's script (src/http/collect-assets.ts serves it; the widgets' contract: docs/widget.md). Plain ES2017, no build step. */
(function () {
  'use strict';
  var root = document.getElementById('collect');
  if (!root) return;
  var d = root.dataset;
  var status = document.getElementById('status');
  var hint = document.getElementById('hint');
  var cardSlot = document.getElementById('bank131-tokenize');
  var bindSlot = document.getElementById('bank131-self-employed');
  var FINAL = { succeeded: 1, failed: 1, cancelled: 1, expired: 1, returned: 1, saved: 1 };
  var T =
    d.lang === 'en'
      ? {
          sending: 'Checking the card…',
          binding: 'Recording the permission…',
          again: 'Something went wrong. Reload the page and try again.',
          used: 'This link was already used.',
          expired: 'This link has expired.',
          taxpayerUnknown: 'The tax service does not know you as self-employed. Register as self-employed, then tell the sender.',
        }
      : {
          sending: 'Проверяем карту…',
          binding: 'Сохраняем разрешение…',
          again: 'Что-то пошло не так. Обновите страницу и попробуйте снова.',
          used: 'Ссылка уже использована.',
          expired: 'Срок действия ссылки истёк.',
          taxpayerUnknown: 'Налоговая служба не знает вас как самозанятого. Зарегистрируйтесь как самозанятый и сообщите отправителю.',
        };

  function show(text, phase) {
    status.textContent = text;
    root.setAttribute('data-phase', phase);
  }

  /** Nothing more to give on this page: the widgets go, the status line stays. */
  function settle(text, phase) {
    d.ask = '';
    cardSlot.hidden = true;
    bindSlot.hidden = true;
    hint.textContent = '';
    show(text, phase);
  }

  function poll() {
    fetch('/collect/' + encodeURIComponent(d.token) + '/status', { headers: { accept: 'application/json' } })
      .then(function (r) {
        return r.ok ? r.json() : null;
      })
      .then(function (s) {
        // the payout failed in a way this page can mend (a new card, the binding): render it afresh
        if (s && s.ask && s.ask !== d.ask) return window.location.reload();
        if (s) settle(s.text, s.phase);
        if (!s || !FINAL[s.phase]) setTimeout(poll, 1000);
      })
      .catch(function () {
        setTimeout(poll, 2000);
      });
  }

  function post(path, body) {
    return fetch('/collect/' + encodeURIComponent(d.token) + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(function (answer) {
        return { ok: r.ok, body: answer };
      });
    });
  }

  function refused(res) {
    var code = res.body && res.body.error && res.body.error.code;
    settle(
      code === 'link_used'
        ? T.used
        : code === 'link_expired'
          ? T.expired
          : (res.body && res.body.error && res.body.error.message) || T.again,
      code === 'link_expired' ? 'expired' : 'failed',
    );
    if (code === 'link_used') poll();
  }

  function sendCard(card) {
    var paying = d.cardFor === 'payout';
    settle(T.sending, paying ? 'paying' : 'checking');
    post('/card', card)
      .then(function (res) {
        if (!res.ok) return refused(res);
        if (res.body.status === 'saved') return settle(res.body.text, res.body.phase);
        poll();
      })
      .catch(function () {
        settle(T.again, 'failed');
      });
  }

  function sendBinding(taxReference) {
    bindSlot.hidden = true;
    show(T.binding, d.phase);
    post('/self-employed', { tax_reference: taxReference })
      .then(function (res) {
        if (!res.ok) return refused(res);
        var b = res.body;
        if (b.ask === 'card') {
          hint.textContent = b.hint;
          show(b.text, 'card');
          renderCard();
          return;
        }
        settle(b.text, b.phase);
      })
      .catch(function () {
        settle(T.again, 'failed');
      });
  }

  function renderCard() {
    d.ask = 'card';
    if (typeof window.Bank131Tokenize !== 'function' || !d.publicToken) return show(T.again, d.phase);
    cardSlot.hidden = false;
    new window.Bank131Tokenize({ publicToken: d.publicToken, locale: d.lang, container: 'bank131-tokenize' }).render();
  }

  function renderBind() {
    var Widget = window.Bank131SelfEmployed;
    if (typeof Widget !== 'function' || !d.bindToken) return show(T.again, d.phase);
    bindSlot.hidden = false;
    new Widget({
      publicToken: d.bindToken,
      stage: Widget.STAGES && Widget.STAGES.bind,
      initialValues: { taxReferenceOrPhone: d.taxReference },
      locale: d.lang,
      container: 'bank131-self-employed',
    }).render();
  }

  // Messages from the widgets' frames: only from the widgets' origin, and only for the widget shown now.
  window.addEventListener('message', function (event) {
    if (event.origin !== d.widgetOrigin) return;
    var m = event.data;
    if (!m) return;
    if (m.source === 'bank131-tokenize' && d.ask === 'card') {
      if (m.type === 'tokenize_success' && m.encrypted_card) sendCard(m.encrypted_card);
      if (m.type === 'tokenize_error' && m.error && (m.error.code === 'public_token_used' || m.error.code === 'public_token_unknown'))
        show(T.again, d.phase);
    }
    if (m.source === 'bank131-self-employed' && d.ask === 'self_employed') {
      // `bound` / `error` as the bank's page was described to us; `self_employed_*` as the sandbox's widget posts them
      if ((m.type === 'bound' || m.type === 'self_employed_bound') && typeof m.tax_reference === 'string') sendBinding(m.tax_reference);
      if (m.type === 'error' || m.type === 'self_employed_error') {
        var code = m.code || (m.error && m.error.code);
        if (code === 'taxpayer_unknown') show(T.taxpayerUnknown, d.phase);
        if (code === 'public_token_used' || code === 'public_token_unknown') show(T.again, d.phase);
      }
    }
  });

  if (d.ask === 'card') renderCard();
  else if (d.ask === 'self_employed') renderBind();
  else if (!FINAL[d.phase]) poll();
})();
