// Slack modals: a stack of views over the Slack pane.
//
// Each view in the stack keeps its own DOM while it is covered by a pushed one, so going
// back finds it as it was left. A poll never redraws a view unless the *service* changed it
// (views.update), and then what the person had typed is put back, as Slack does.

import { el, hashOf, toast } from "./dom.js";
import { collectState, missingRequired, renderBlocks, restoreState, showErrors } from "./slack.js";

let localViews = 0;

export class ModalStack {
  /**
   * @param {HTMLElement} layer  where modals are drawn
   * @param {object} hooks  {ctx(): block ctx, submit(entry, values), closed(entry),
   *                         action(entry, action)}; submit resolves to the HTTP answer
   */
  constructor(layer, hooks) {
    this.layer = layer;
    this.hooks = hooks;
    this.stack = [];
    this.lastSeq = null; // null: the first poll only learns what is old
  }

  /** Forget everything (another persona): close without telling the service. */
  reset() {
    this.stack = [];
    this.lastSeq = null;
    this.layer.replaceChildren();
    this.layer.hidden = true;
  }

  /** The views the service reports for this person ({view_id, seq, view}). */
  sync(views) {
    const sorted = [...(views || [])].sort((a, b) => a.seq - b.seq);
    const newest = sorted.reduce((max, v) => Math.max(max, v.seq), 0);
    if (this.lastSeq === null) {
      this.lastSeq = newest; // opened before this page looked: not shown again
    }
    for (const entry of sorted) {
      if (entry.seq > this.lastSeq) this.open(entry.view_id, entry.view);
    }
    this.lastSeq = Math.max(this.lastSeq, newest);
    for (const item of this.stack) {
      const server = sorted.find((v) => v.view_id === item.viewId);
      if (!server) continue;
      const hash = hashOf(server.view);
      if (hash !== item.serverHash) {
        item.serverHash = hash;
        this.redraw(item, server.view);
      }
    }
  }

  open(viewId, view) {
    const item = { viewId: viewId || view?.id, view, serverHash: hashOf(view) };
    this.stack.push(item);
    this.draw(item);
    this.layout();
  }

  /** A view the service handed back in a response (response_action push): it has no id the
   * service knows, so it gets a local one. */
  pushLocal(view) {
    const viewId = view.id || `VLOCAL${++localViews}`;
    this.stack.push({ viewId, view: { ...view, id: viewId }, serverHash: null, local: true });
    this.draw(this.stack[this.stack.length - 1]);
    this.layout();
  }

  top() {
    return this.stack[this.stack.length - 1] || null;
  }

  pop() {
    const item = this.stack.pop();
    item?.node.remove();
    this.layout();
    return item;
  }

  clear() {
    for (const item of this.stack) item.node.remove();
    this.stack = [];
    this.layout();
  }

  /** Only the top view is visible; only it carries the test ids (so they stay unique). */
  layout() {
    this.layer.hidden = this.stack.length === 0;
    this.stack.forEach((item, index) => {
      const isTop = index === this.stack.length - 1;
      item.node.hidden = !isTop;
      item.node.dataset.testid = isTop ? "slack-modal" : "slack-modal-under";
      const submit = item.node.querySelector(".modal-submit");
      if (submit) submit.dataset.testid = isTop ? "slack-modal-submit" : "slack-modal-submit-under";
      const close = item.node.querySelector(".modal-close");
      if (close) close.dataset.testid = isTop ? "slack-modal-close" : "slack-modal-close-under";
    });
  }

  // -- drawing -------------------------------------------------------------------------------

  draw(item) {
    const node = el("div", {
      class: "modal",
      role: "dialog",
      "aria-modal": "true",
      dataset: { viewId: item.viewId || "" },
    });
    item.node = node;
    this.fill(item);
    this.layer.append(node);
    node.querySelector("[autofocus]")?.focus();
  }

  fill(item) {
    const view = item.view || {};
    const ctx = {
      ...this.hooks.ctx(),
      surface: "modal",
      onAction: (action) => this.hooks.action(item, action),
    };
    item.body = renderBlocks(view.blocks, ctx);
    item.banner = el("div", { class: "modal-banner", hidden: true });
    const back = this.stack.indexOf(item) > 0;
    item.node.dataset.callbackId = view.callback_id || "";
    item.node.replaceChildren(
      el(
        "header",
        { class: "modal-head" },
        back ? el("span", { class: "modal-back", title: "前の画面 / previous view" }, "‹") : null,
        el("span", { class: "modal-title" }, view.title?.text ?? ""),
        el(
          "button",
          {
            type: "button",
            class: "modal-x",
            "aria-label": "閉じる / close",
            onclick: () => this.cancel(item),
          },
          "×",
        ),
      ),
      item.banner,
      el("div", { class: "modal-body" }, item.body),
      el(
        "footer",
        { class: "modal-foot" },
        el(
          "button",
          { type: "button", class: "bk-button modal-close", onclick: () => this.cancel(item) },
          view.close?.text || (view.submit ? "キャンセル" : "閉じる"),
        ),
        view.submit
          ? el(
              "button",
              {
                type: "button",
                class: "bk-button bk-primary modal-submit",
                onclick: () => this.submit(item),
              },
              view.submit.text,
            )
          : null,
      ),
    );
  }

  /** New content for a view that is open: draw it, then put the typed values back. */
  redraw(item, view) {
    const values = item.body ? collectState(item.body) : {};
    const scroll = item.node.querySelector(".modal-body")?.scrollTop ?? 0;
    item.view = view;
    this.fill(item);
    restoreState(item.body, values);
    const body = item.node.querySelector(".modal-body");
    if (body) body.scrollTop = scroll;
    this.layout();
  }

  // -- what the person does --------------------------------------------------------------------

  async cancel(item) {
    if (item !== this.top()) return;
    this.pop();
    if (item.view?.notify_on_close) {
      try {
        await this.hooks.closed(item);
      } catch (error) {
        toast(error.message);
      }
    }
  }

  async submit(item) {
    if (item !== this.top() || item.busy) return;
    const values = collectState(item.body);
    const missing = missingRequired(item.body, values);
    this.showErrors(item, missing);
    if (Object.keys(missing).length) return;
    item.busy = true;
    item.node.classList.add("is-busy");
    try {
      const answer = await this.hooks.submit(item, values);
      this.afterSubmit(item, answer.json);
    } catch (error) {
      toast(`送信できませんでした / not sent: ${error.message}`);
    } finally {
      item.busy = false;
      item.node.classList.remove("is-busy");
    }
  }

  /** Slack's answers to a submission: errors, update, push, clear, or (empty) close. */
  afterSubmit(item, body) {
    const action = body?.response_action;
    if (action === "errors") {
      this.showErrors(item, body.errors || {});
    } else if (action === "update" && body.view) {
      const values = collectState(item.body);
      item.view = { ...body.view, id: item.viewId };
      item.local = true;
      this.fill(item);
      restoreState(item.body, values);
      this.layout();
    } else if (action === "push" && body.view) {
      this.pushLocal(body.view);
    } else if (action === "clear") {
      this.clear();
    } else {
      if (item === this.top()) this.pop();
    }
  }

  showErrors(item, errors) {
    const unplaced = showErrors(item.body, errors);
    item.banner.hidden = unplaced.length === 0;
    item.banner.textContent = unplaced.join("\n");
    const first = item.node.querySelector(".has-error");
    first?.scrollIntoView({ block: "nearest" });
  }
}
