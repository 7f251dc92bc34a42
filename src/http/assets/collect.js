/* The card collection page's script (src/http/collect-assets.ts serves it; the widget contract: docs/widget.md). Plain ES2017, no build step. */
(function () {
  'use strict';
  var root = document.getElementById('collect');
  if (!root) return;
  var d = root.dataset;
  var status = document.getElementById('status');
  var hint = document.getElementById('hint');
  var slot = document.getElementById('bank131-tokenize');
  var FINAL = { succeeded: 1, failed: 1, cancelled: 1, expired: 1 };
  var T =
    d.lang === 'en'
      ? {
          sending: 'Checking the card…',
          again: 'Something went wrong. Reload the page and try again.',
          used: 'This link was already used.',
          expired: 'This link has expired.',
        }
      : {
          sending: 'Проверяем карту…',
          again: 'Что-то пошло не так. Обновите страницу и попробуйте снова.',
          used: 'Ссылка уже использована.',
          expired: 'Срок действия ссылки истёк.',
        };

  function show(text, phase) {
    status.textContent = text;
    root.setAttribute('data-phase', phase);
    if (phase !== 'card') {
      slot.hidden = true;
      hint.textContent = '';
    }
  }

  function poll() {
    fetch('/collect/' + encodeURIComponent(d.token) + '/status', { headers: { accept: 'application/json' } })
      .then(function (r) {
        return r.ok ? r.json() : null;
      })
      .then(function (s) {
        if (s) show(s.text, s.phase);
        if (!s || !FINAL[s.phase]) setTimeout(poll, 1000);
      })
      .catch(function () {
        setTimeout(poll, 2000);
      });
  }

  function sendCard(card) {
    show(T.sending, 'paying');
    fetch('/collect/' + encodeURIComponent(d.token) + '/card', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(card),
    })
      .then(function (r) {
        return r.json().then(function (body) {
          return { ok: r.ok, body: body };
        });
      })
      .then(function (res) {
        if (res.ok) return poll();
        var code = res.body && res.body.error && res.body.error.code;
        show(
          code === 'link_used' ? T.used : code === 'link_expired' ? T.expired : (res.body.error && res.body.error.message) || T.again,
          code === 'link_expired' ? 'expired' : 'failed',
        );
        if (code === 'link_used') poll();
      })
      .catch(function () {
        show(T.again, 'failed');
      });
  }

  if (d.phase !== 'card') {
    if (!FINAL[d.phase]) poll();
    return;
  }
  window.addEventListener('message', function (event) {
    if (event.origin !== d.widgetOrigin) return;
    var m = event.data;
    if (!m || m.source !== 'bank131-tokenize') return;
    if (m.type === 'tokenize_success' && m.encrypted_card) sendCard(m.encrypted_card);
    if (m.type === 'tokenize_error' && m.error && (m.error.code === 'public_token_used' || m.error.code === 'public_token_unknown'))
      show(T.again, 'card');
  });
  if (typeof window.Bank131Tokenize !== 'function') {
    show(T.again, 'card');
    return;
  }
  new window.Bank131Tokenize({ publicToken: d.publicToken, locale: d.lang, container: 'bank131-tokenize' }).render();
})();
