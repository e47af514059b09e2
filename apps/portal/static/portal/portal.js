/* Gatehouse portal: show a conditional question only while its condition holds.
 *
 * Each question's wrapper carries data-question="<key>" and, when conditional,
 * data-condition='{"key": ..., "operator": ..., "value": ...}' (as in the request type).
 * Hidden questions are disabled, so they are neither checked by the browser nor sent;
 * the server decides again with the same rules (chain.clean_answers).
 * Forms with data-confirm="question" ask before they are sent.
 * Decision forms with data-deny-reason-required ask for a comment before a denial is sent
 * (the server refuses a denial without one too).
 */
(function () {
  "use strict";

  function isNumber(text) {
    return text !== "" && !isNaN(Number(text));
  }

  function same(answer, expected) {
    if (answer === expected) return true;
    return isNumber(answer) && isNumber(expected) && Number(answer) === Number(expected);
  }

  function setUp(form) {
    var wrappers = Array.prototype.slice.call(form.querySelectorAll("[data-question]"));
    if (!wrappers.some(function (w) { return w.hasAttribute("data-condition"); })) return;

    function wrapperOf(key) {
      return form.querySelector('[data-question="' + key + '"]');
    }

    function inputOf(key) {
      var wrapper = wrapperOf(key);
      if (!wrapper || wrapper.hidden) return null;
      return wrapper.querySelector("input, select, textarea");
    }

    function answerOf(key) {
      var input = inputOf(key);
      return input ? input.value.trim().toLowerCase() : "";
    }

    function isYesNo(key) {
      var input = inputOf(key);
      return !!input && input.tagName === "SELECT" && !!input.querySelector('option[value="true"]');
    }

    function holds(condition) {
      var answer = answerOf(condition.key);
      var expected = String(condition.value || "").trim().toLowerCase();
      // "yes" and "no" stand for a yes/no answer; an option may be called "yes" too.
      if (isYesNo(condition.key) && expected === "yes") expected = "true";
      if (isYesNo(condition.key) && expected === "no") expected = "false";
      switch (condition.operator) {
        case "equals": return same(answer, expected);
        case "not_equals": return !same(answer, expected);
        case "is_true": return answer === "true";
        case "is_false": return answer === "false";
        case "is_set": return answer !== "";
        default: return false;
      }
    }

    function update() {
      // In page order, so a question that depends on a hidden one is hidden too.
      wrappers.forEach(function (wrapper) {
        var raw = wrapper.getAttribute("data-condition");
        if (!raw) return;
        var show = holds(JSON.parse(raw));
        wrapper.hidden = !show;
        wrapper.querySelectorAll("input, select, textarea").forEach(function (input) {
          input.disabled = !show;
          input.required = show && input.getAttribute("data-required") === "true";
        });
      });
    }

    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }

  function askFirst(form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  }

  function reasonToDeny(form) {
    var comment = form.querySelector("textarea[name=comment]");
    if (!comment) return;
    form.addEventListener("click", function (event) {
      var button = event.target.closest("button[name=decision]");
      if (!button) return;
      var missing = button.value === "deny" && comment.value.trim() === "";
      comment.setCustomValidity(missing ? "Give a reason to deny: the requester reads it." : "");
      if (missing) {
        event.preventDefault();
        comment.reportValidity();
        comment.focus();
      }
    });
    comment.addEventListener("input", function () { comment.setCustomValidity(""); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-deny-reason-required]").forEach(reasonToDeny);
    document.querySelectorAll("form[data-conditional]").forEach(setUp);
    document.querySelectorAll("form[data-confirm]").forEach(askFirst);
  });
})();
