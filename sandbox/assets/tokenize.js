/* Bank 131 sandbox tokenization widget: see docs/widget.md */
(function () {
  'use strict';
  var script = document.currentScript;
  var scriptUrl = script && script.src ? script.src : location.href;
  var frameUrl = new URL('tokenize/frame', scriptUrl).href;
  var widgetOrigin = new URL(scriptUrl).origin;
  var SOURCE = 'bank131-tokenize';

  function Bank131Tokenize(options) {
    if (!(this instanceof Bank131Tokenize)) throw new TypeError('Bank131Tokenize: use new Bank131Tokenize({ publicToken })');
    options = options || {};
    if (typeof options.publicToken !== 'string' || options.publicToken === '')
      throw new TypeError('Bank131Tokenize: publicToken is required');
    this.publicToken = options.publicToken;
    this.locale = options.locale === 'en' ? 'en' : 'ru';
    this.container = options.container || 'bank131-tokenize';
    this.frame = null;
    this._onMessage = null;
  }

  Bank131Tokenize.prototype.render = function () {
    var container = typeof this.container === 'string' ? document.getElementById(this.container) : this.container;
    if (!container) throw new Error('Bank131Tokenize: no container #' + this.container + ' on the page');
    this.destroy();
    var frame = document.createElement('iframe');
    var pageOrigin = location.origin && location.origin !== 'null' ? location.origin : '';
    frame.src =
      frameUrl +
      '?public_token=' +
      encodeURIComponent(this.publicToken) +
      '&locale=' +
      this.locale +
      (pageOrigin ? '&origin=' + encodeURIComponent(pageOrigin) : '');
    frame.className = 'bank131-tokenize__frame';
    frame.title = this.locale === 'en' ? 'Card details' : 'Данные карты';
    frame.setAttribute('scrolling', 'no');
    container.classList.add('bank131-tokenize');
    container.appendChild(frame);
    this.frame = frame;
    this._onMessage = function (event) {
      if (event.origin !== widgetOrigin || event.source !== frame.contentWindow) return;
      var data = event.data;
      if (data && data.source === SOURCE && data.type === 'tokenize_resize' && typeof data.height === 'number') {
        frame.style.height = Math.ceil(data.height) + 'px';
      }
    };
    window.addEventListener('message', this._onMessage);
    return this;
  };

  Bank131Tokenize.prototype.destroy = function () {
    if (this._onMessage) window.removeEventListener('message', this._onMessage);
    if (this.frame && this.frame.parentNode) this.frame.parentNode.removeChild(this.frame);
    this.frame = null;
    this._onMessage = null;
  };

  Bank131Tokenize.ORIGIN = widgetOrigin;
  Bank131Tokenize.SOURCE = SOURCE;
  Bank131Tokenize.EVENTS = { ready: 'tokenize_ready', success: 'tokenize_success', error: 'tokenize_error' };
  window.Bank131Tokenize = Bank131Tokenize;
})();
