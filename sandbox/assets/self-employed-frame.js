/* Bank 131 sandbox self-employed widget, the "Allow" page: see sandbox/README.md */
(function () {
  'use strict';
  var SOURCE = 'bank131-self-employed';
  var body = document.body;
  var t = JSON.parse(document.getElementById('bank131-se-i18n').textContent);
  var token = body.getAttribute('data-public-token') || '';
  var parentOrigin = body.getAttribute('data-parent-origin') || '*';
  var stage = body.getAttribute('data-stage') === 'check' ? 'check' : 'bind';
  var taxReference = body.getAttribute('data-tax-reference') || '';
  var bound = body.getAttribute('data-bound') === 'true';
  var form = document.getElementById('bank131-self-employed-form');
  var submit = document.getElementById('bank131-se-submit');
  var formError = document.getElementById('bank131-se-error');
  var success = document.getElementById('bank131-se-success');

  function post(message) {
    message.source = SOURCE;
    if (window.parent && window.parent !== window) window.parent.postMessage(message, parentOrigin);
  }
  function resize() {
    post({ type: 'self_employed_resize', height: Math.ceil(body.getBoundingClientRect().height) });
  }
  function say(key, fallback) {
    return t[key] || fallback || key;
  }
  function fail(error, final) {
    formError.textContent = say(error.code, error.description);
    submit.disabled = final;
    post({ type: 'self_employed_error', error: { code: error.code, description: error.description } });
    resize();
  }
  function done(text) {
    form.hidden = true;
    success.hidden = false;
    success.textContent = text;
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    formError.textContent = '';
    submit.disabled = true;
    submit.textContent = say('sending');
    fetch(new URL('../widget/self-employed/bind', location.href).href, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ public_token: token }),
      credentials: 'omit',
    })
      .then(function (res) {
        return res.json().catch(function () {
          return { status: 'error', error: { code: 'internal_error', description: 'HTTP ' + res.status } };
        });
      })
      .then(
        function (answer) {
          submit.textContent = say('submit');
          if (answer && answer.status === 'ok') {
            done(say('done'));
            post({ type: 'self_employed_bound', tax_reference: answer.tax_reference });
            resize();
            return;
          }
          var error = (answer && answer.error) || { code: 'internal_error', description: 'no answer' };
          var final = error.code === 'public_token_used' || error.code === 'public_token_unknown' || error.code === 'taxpayer_unknown';
          fail(error, final);
        },
        function () {
          submit.textContent = say('submit');
          fail({ code: 'network_error', description: 'the bank could not be reached' }, false);
        },
      );
  });

  if (typeof ResizeObserver === 'function') new ResizeObserver(resize).observe(body);
  window.addEventListener('load', resize);
  // Known before anything is pressed (the frame's page says so): final, posted instead of ready.
  var LOAD_ERRORS = {
    public_token_used: 'this public token was already used',
    public_token_unknown: 'this public token was not issued by the bank',
    taxpayer_unknown: 'the tax reference is not registered as self-employed',
  };
  var loadError = body.getAttribute('data-error');
  if (loadError) {
    fail({ code: loadError, description: LOAD_ERRORS[loadError] || loadError }, true);
    return;
  }
  // The check stage only finds out: someone already bound is told so, with nothing to press.
  if (stage === 'check' && bound) done(say('already'));
  post({ type: 'self_employed_ready', stage: stage, tax_reference: taxReference, bound: bound });
  resize();
})();
