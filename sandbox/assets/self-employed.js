/* Bank 131 sandbox self-employed widget: see sandbox/README.md */
(function () {
  'use strict';
  var script = document.currentScript;
  var scriptUrl = script && script.src ? script.src : location.href;
  var frameUrl = new URL('self-employed/frame', scriptUrl).href;
  var widgetOrigin = new URL(scriptUrl).origin;
  var SOURCE = 'bank131-self-employed';
  var STAGES = { bind: 'bind', check: 'check' };

  function Bank131SelfEmployed(options) {
    if (!(this instanceof Bank131SelfEmployed)) throw new TypeError('Bank131SelfEmployed: use new Bank131SelfEmployed({ publicToken })');
    options = options || {};
    if (typeof options.publicToken !== 'string' || options.publicToken === '')
      throw new TypeError('Bank131SelfEmployed: publicToken is required');
    if (options.stage !== undefined && options.stage !== STAGES.bind && options.stage !== STAGES.check)
      throw new TypeError('Bank131SelfEmployed: stage must be Bank131SelfEmployed.STAGES.bind or .check');
    this.publicToken = options.publicToken;
    this.stage = options.stage || STAGES.bind;
    // The token already names the tax reference (it was issued for it); the sandbox shows that one.
    this.initialValues = options.initialValues || {};
    this.locale = options.locale === 'en' ? 'en' : 'ru';
    this.container = options.container || 'bank131-self-employed';
    this.frame = null;
    this._onMessage = null;
  }

  Bank131SelfEmployed.prototype.render = function () {
    var container = typeof this.container === 'string' ? document.getElementById(this.container) : this.container;
    if (!container) throw new Error('Bank131SelfEmployed: no container #' + this.container + ' on the page');
    this.destroy();
    var frame = document.createElement('iframe');
    var pageOrigin = location.origin && location.origin !== 'null' ? location.origin : '';
    frame.src =
      frameUrl +
      '?public_token=' +
      encodeURIComponent(this.publicToken) +
      '&stage=' +
      this.stage +
      '&locale=' +
      this.locale +
      (pageOrigin ? '&origin=' + encodeURIComponent(pageOrigin) : '');
    frame.className = 'bank131-self-employed__frame';
    frame.title = this.locale === 'en' ? 'Self-employed income registration' : 'Регистрация дохода самозанятого';
    frame.setAttribute('scrolling', 'no');
    container.classList.add('bank131-self-employed');
    container.appendChild(frame);
    this.frame = frame;
    this._onMessage = function (event) {
      if (event.origin !== widgetOrigin || event.source !== frame.contentWindow) return;
      var data = event.data;
      if (data && data.source === SOURCE && data.type === 'self_employed_resize' && typeof data.height === 'number') {
        frame.style.height = Math.ceil(data.height) + 'px';
      }
    };
    window.addEventListener('message', this._onMessage);
    return this;
  };

  Bank131SelfEmployed.prototype.destroy = function () {
    if (this._onMessage) window.removeEventListener('message', this._onMessage);
    if (this.frame && this.frame.parentNode) this.frame.parentNode.removeChild(this.frame);
    this.frame = null;
    this._onMessage = null;
  };

  Bank131SelfEmployed.ORIGIN = widgetOrigin;
  Bank131SelfEmployed.SOURCE = SOURCE;
  Bank131SelfEmployed.STAGES = STAGES;
  Bank131SelfEmployed.EVENTS = { ready: 'self_employed_ready', bound: 'self_employed_bound', error: 'self_employed_error' };
  window.Bank131SelfEmployed = Bank131SelfEmployed;
})();
