/* Bank 131 sandbox tokenization widget, the card form: see docs/widget.md */
(function () {
  'use strict';
  var SOURCE = 'bank131-tokenize';
  var body = document.body;
  var t = JSON.parse(document.getElementById('bank131-i18n').textContent);
  var token = body.getAttribute('data-public-token') || '';
  var parentOrigin = body.getAttribute('data-parent-origin') || '*';
  var form = document.getElementById('bank131-tokenize-form');
  var submit = document.getElementById('bank131-submit');
  var formError = document.getElementById('bank131-form-error');
  var success = document.getElementById('bank131-success');
  var inputs = {
    card_number: document.getElementById('bank131-card-number'),
    expiry: document.getElementById('bank131-card-expiry'),
    security_code: document.getElementById('bank131-card-cvc'),
    cardholder_name: document.getElementById('bank131-cardholder-name'),
  };

  function post(message) {
    message.source = SOURCE;
    if (window.parent && window.parent !== window) window.parent.postMessage(message, parentOrigin);
  }
  function resize() {
    post({ type: 'tokenize_resize', height: Math.ceil(body.getBoundingClientRect().height) });
  }
  function say(key, fallback) {
    return t[key] || fallback || key;
  }

  function luhn(digits) {
    var sum = 0;
    for (var i = 0; i < digits.length; i++) {
      var d = Number(digits.charAt(digits.length - 1 - i));
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
    }
    return sum % 10 === 0;
  }
  function check(values) {
    var fields = [];
    var digits = values.card_number.replace(/[\s-]/g, '');
    if (digits === '') fields.push({ field: 'card_number', code: 'required' });
    else if (!/^\d{13,19}$/.test(digits)) fields.push({ field: 'card_number', code: 'invalid' });
    else if (!luhn(digits)) fields.push({ field: 'card_number', code: 'luhn' });
    var expiry = values.expiry.replace(/\s/g, '');
    var m = /^(\d{2})\/?(\d{2})$/.exec(expiry);
    if (expiry === '') fields.push({ field: 'expiry', code: 'required' });
    else if (!m || Number(m[1]) < 1 || Number(m[1]) > 12) fields.push({ field: 'expiry', code: 'invalid' });
    else if (Date.UTC(2000 + Number(m[2]), Number(m[1]), 1) <= Date.now()) fields.push({ field: 'expiry', code: 'expired' });
    if (values.security_code === '') fields.push({ field: 'security_code', code: 'required' });
    else if (!/^\d{3,4}$/.test(values.security_code)) fields.push({ field: 'security_code', code: 'invalid' });
    var name = values.cardholder_name.replace(/\s+/g, ' ');
    if (name !== '' && !/^[A-Za-z][A-Za-z .'-]{0,63}$/.test(name)) fields.push({ field: 'cardholder_name', code: 'invalid' });
    return fields;
  }

  function clearErrors() {
    Object.keys(inputs).forEach(function (name) {
      inputs[name].setAttribute('aria-invalid', 'false');
      document.getElementById(inputs[name].id + '-error').textContent = '';
    });
    formError.textContent = '';
  }
  function showFieldErrors(fields) {
    fields.forEach(function (f) {
      var input = inputs[f.field];
      if (!input) return;
      input.setAttribute('aria-invalid', 'true');
      document.getElementById(input.id + '-error').textContent = say(f.field + '.' + f.code, f.description);
    });
    var first = fields.length && inputs[fields[0].field];
    if (first) first.focus();
  }
  function fail(error, final) {
    if (error.fields && error.fields.length) showFieldErrors(error.fields);
    else formError.textContent = say(error.code, error.description);
    if (final) {
      Object.keys(inputs).forEach(function (name) {
        inputs[name].disabled = true;
      });
      submit.disabled = true;
    }
    post({ type: 'tokenize_error', error: error });
    resize();
  }

  // Gentle formatting while typing: groups of four, and MM/YY.
  inputs.card_number.addEventListener('input', function () {
    var digits = inputs.card_number.value.replace(/\D/g, '').slice(0, 19);
    inputs.card_number.value = digits.replace(/(\d{4})(?=\d)/g, '$1 ');
  });
  inputs.expiry.addEventListener('input', function (e) {
    var digits = inputs.expiry.value.replace(/\D/g, '').slice(0, 4);
    var deleting = e && e.inputType && e.inputType.indexOf('delete') === 0;
    inputs.expiry.value = digits.length > 2 || (digits.length === 2 && !deleting) ? digits.slice(0, 2) + '/' + digits.slice(2) : digits;
  });

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    clearErrors();
    var values = {};
    Object.keys(inputs).forEach(function (name) {
      values[name] = inputs[name].value.trim();
    });
    var fields = check(values);
    if (fields.length) {
      fail(
        {
          code: 'invalid_card',
          description: 'the card details are not valid',
          fields: fields.map(function (f) {
            return { field: f.field, code: f.code, description: f.field + ': ' + f.code };
          }),
        },
        false,
      );
      return;
    }
    submit.disabled = true;
    submit.textContent = say('sending');
    var request = { public_token: token };
    Object.keys(values).forEach(function (name) {
      request[name] = values[name];
    });
    fetch(new URL('../widget/tokenize', location.href).href, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
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
            form.hidden = true;
            success.hidden = false;
            success.textContent = say('done').replace('{last4}', answer.last4);
            post({ type: 'tokenize_success', encrypted_card: answer.card });
            resize();
            return;
          }
          var error = (answer && answer.error) || { code: 'internal_error', description: 'no answer' };
          var final = error.code === 'public_token_used' || error.code === 'public_token_unknown';
          submit.disabled = final;
          fail(error, final);
        },
        function () {
          submit.disabled = false;
          submit.textContent = say('submit');
          fail({ code: 'network_error', description: 'the bank could not be reached' }, false);
        },
      );
  });

  if (typeof ResizeObserver === 'function') new ResizeObserver(resize).observe(body);
  window.addEventListener('load', resize);
  var tokenError = body.getAttribute('data-token-error');
  if (tokenError) {
    fail(
      {
        code: tokenError,
        description:
          tokenError === 'public_token_used' ? 'this public token was already used' : 'this public token was not issued by the bank',
      },
      true,
    );
  } else {
    post({ type: 'tokenize_ready' });
    resize();
  }
})();
