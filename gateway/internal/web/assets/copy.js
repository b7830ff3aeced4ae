(function () {
  "use strict";
  // The only script of the site: copy buttons. They are hidden in the
  // markup and shown here, so that without JavaScript nothing is offered
  // that cannot work.
  var copied = document.body.getAttribute("data-copied") || "Copied";
  var status = document.getElementById("copy-status");
  function write(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }
  function textOf(button) {
    var url = button.getAttribute("data-copy-url");
    if (url) { return new URL(url, window.location.href).href; }
    var code = button.closest(".codebox").querySelector("pre code");
    return code ? code.textContent : "";
  }
  document.querySelectorAll("button.copy").forEach(function (button) {
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      write(textOf(button)).then(function () {
        button.textContent = copied;
        button.setAttribute("data-copied", "true");
        if (status) { status.textContent = copied; }
        window.setTimeout(function () { button.textContent = label; }, 2000);
      }, function () {});
    });
  });
})();
