/* The collection page's script (src/http/collect-assets.ts serves it; the widgets' contract: docs/widget.md). Plain ES2017, no build step. */
(function () {
  'use strict';
  var root = document.getElementById('collect');
  if (!root) return;
  var d = root.dataset;
  var status = document.getElementById('status');
  var hint = document.getElementById('hint');
  var retry = document.getElementById('retry');
  var cardSlot = document.getElementById('bank131-tokenize');
  var bindSlot = document.getElementById('bank131-self-employed');
  var FINAL = { succeeded: 1, failed: 1, cancelled: 1, expired: 1, returned: 1, saved: 1 };
  // every word is the server's, in the page's language (src/http/collect-page.ts TEXT.script)
  var T = document.getElementById('collect-text').dataset;
  var WIDGETS = { card: 'bank131-tokenize', self_employed: 'bank131-self-employed' };
  var silence = null;
  var reported = {};
  // a problem the widget's first word clears (it was only slow), as against one only a reload mends
  var soft = false;

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
    clearProblem();
    show(text, phase);
  }

  /** Something only a fresh page can mend: say so, and offer the button that reloads it. */
  function offerRetry(text, keepWidget) {
    soft = keepWidget;
    if (!keepWidget) {
      cardSlot.hidden = true;
      bindSlot.hidden = true;
      hint.textContent = '';
    }
    root.setAttribute('data-problem', '1');
    status.textContent = text;
    retry.hidden = false;
  }

  function clearProblem() {
    if (!root.hasAttribute('data-problem')) return;
    soft = false;
    root.removeAttribute('data-problem');
    retry.hidden = true;
    status.textContent = '';
  }

  retry.addEventListener('click', function () {
    retry.disabled = true;
    window.location.reload();
  });

  /** Tells the service why a widget could not be used (it logs it), once per widget, reason and code. */
  function report(widget, reason, code) {
    var key = widget + ' ' + reason + ' ' + (code || '');
    if (reported[key]) return;
    reported[key] = 1;
    var body = { widget: widget, reason: reason };
    if (typeof code === 'string' && /^[a-z][a-z0-9_]{0,39}$/.test(code)) body.code = code;
    fetch('/collect/' + encodeURIComponent(d.token) + '/widget-problem', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      keepalive: true,
    }).catch(function () {
      // the recipient already sees what to do; a report that cannot be sent is no news to them
    });
  }

  /** A widget that cannot be used: the service hears why, the recipient sees what to do. */
  function widgetFailed(widget, reason, code) {
    stopWaiting();
    report(widget, reason, code);
    offerRetry(T.widgetProblem, false);
  }

  /** A rendered widget that says nothing (its frame blocked or never loaded) is reported once it has been silent too long. */
  function waitFor(widget) {
    stopWaiting();
    var ms = Number(d.widgetTimeoutMs) || 20000;
    silence = setTimeout(function () {
      silence = null;
      report(widget, 'timeout');
      // it may still come on a slow network: the widget stays, and its first word clears this
      offerRetry(T.widgetProblem, true);
    }, ms);
  }

  function stopWaiting() {
    if (silence) clearTimeout(silence);
    silence = null;
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
    if (code === 'link_used') {
      settle(T.used, 'failed');
      return poll();
    }
    // an expired link: the status line says so in the page's words
    if (code === 'link_expired') {
      settle('', 'expired');
      return poll();
    }
    // the card the bank refused spent the widget's token: a fresh page brings a fresh widget
    offerRetry(code === 'card_refused' ? T.cardRefused : T.again, false);
  }

  function sendCard(card) {
    var paying = d.cardFor === 'payout';
    settle(T.checking, paying ? 'paying' : 'checking');
    post('/card', card)
      .then(function (res) {
        if (!res.ok) return refused(res);
        if (res.body.status === 'saved') return settle(res.body.text, res.body.phase);
        poll();
      })
      .catch(function () {
        offerRetry(T.again, false);
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
        offerRetry(T.again, false);
      });
  }

  /** Renders a widget, or reports why it cannot be: its script did not load, or it threw. */
  function render(widget, make) {
    d.ask = widget;
    try {
      var instance = make();
      if (!instance) return widgetFailed(widget, 'script_load_failed');
      document.getElementById(WIDGETS[widget]).hidden = false;
      instance.render();
    } catch (err) {
      // its kind only ("typeerror"): the message could hold anything
      return widgetFailed(widget, 'render_failed', String((err && err.name) || '').toLowerCase());
    }
    waitFor(widget);
  }

  function renderCard() {
    render('card', function () {
      // Scripts run in order: had the widget's failed to load, its constructor would be missing now.
      if (typeof window.Bank131Tokenize !== 'function') return null;
      if (!d.publicToken) throw new Error('no public token');
      return new window.Bank131Tokenize({ publicToken: d.publicToken, locale: d.lang, container: WIDGETS.card });
    });
  }

  function renderBind() {
    render('self_employed', function () {
      var Widget = window.Bank131SelfEmployed;
      if (typeof Widget !== 'function') return null;
      if (!d.bindToken) throw new Error('no public token');
      return new Widget({
        publicToken: d.bindToken,
        stage: Widget.STAGES && Widget.STAGES.bind,
        initialValues: { taxReferenceOrPhone: d.taxReference },
        locale: d.lang,
        container: WIDGETS.self_employed,
      });
    });
  }

  /** The widget's own errors about itself (not the recipient's typing): a token it cannot use is final, the others it lets them retry. */
  function widgetError(widget, code) {
    if (code === 'public_token_used' || code === 'public_token_unknown') return widgetFailed(widget, 'widget_error', code);
    if (code === 'internal_error' || code === 'network_error') report(widget, 'widget_error', code);
  }

  // Messages from the widgets' frames: only from the widgets' origin, and only for the widget shown now.
  window.addEventListener('message', function (event) {
    if (event.origin !== d.widgetOrigin) return;
    var m = event.data;
    if (!m || typeof m !== 'object') return;
    var widget = m.source === WIDGETS.card ? 'card' : m.source === WIDGETS.self_employed ? 'self_employed' : null;
    if (!widget || widget !== d.ask) return;
    // the widget speaks: it loaded
    stopWaiting();
    if (soft) clearProblem();
    if (widget === 'card') {
      if (m.type === 'tokenize_success' && m.encrypted_card) sendCard(m.encrypted_card);
      if (m.type === 'tokenize_error' && m.error) widgetError(widget, m.error.code);
      return;
    }
    // `bound` / `error` as the bank's page was described to us; `self_employed_*` as the sandbox's widget posts them
    if ((m.type === 'bound' || m.type === 'self_employed_bound') && typeof m.tax_reference === 'string') sendBinding(m.tax_reference);
    if (m.type === 'error' || m.type === 'self_employed_error') {
      var code = m.code || (m.error && m.error.code);
      if (code === 'taxpayer_unknown') show(T.taxpayerUnknown, d.phase);
      else widgetError(widget, code);
    }
  });

  if (d.ask === 'card') renderCard();
  else if (d.ask === 'self_employed') renderBind();
  else if (!FINAL[d.phase]) poll();
})();
