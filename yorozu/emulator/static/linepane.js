// The business owner's phone: a LINE chat with the account, driven through the service's
// real LINE webhook.
//
// The service only reports what the *bot* sent (GET /line/state). What the owner sent is
// kept here: each of the owner's bubbles remembers the last bot message it had seen when it
// was sent (`afterSeq`), so it stays between the bot messages before and after it however
// late the answers arrive.

import { api } from "./api.js";
import { el, hashOf, jst, nearBottom, reconcile, toast } from "./dom.js";
import { isCard, renderMessage, renderQuickReply } from "./line.js";

const PICKER_INPUT = { date: "date", time: "time", datetime: "datetime-local" };

export class LinePane {
  /**
   * @param {object} config  the emulator config (owner, line.account_name)
   * @param {() => string} now  the service clock's current ISO time
   * @param {() => void} poke  ask for a refresh of everything soon (after an action)
   */
  constructor(config, now, poke) {
    this.userId = config.owner.user_id;
    this.accountName = config.line?.account_name || "LINE";
    this.now = now;
    this.poke = poke;
    this.state = { followed: false, messages: [], rich_menu: null };
    this.sent = loadSent(this.userId);
    this.queue = Promise.resolve(); // events leave in the order the owner made them
    this.quickKey = null;
    this.menuKey = null;
    this.picking = null;
    this.$ = (id) => document.getElementById(id);
    this.wire();
  }

  wire() {
    this.$("line-account").textContent = this.accountName;
    this.$("line-owner").textContent = this.userId;
    const input = this.$("line-input");
    this.$("line-composer").addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendTyped();
    });
    input.addEventListener("keydown", (event) => {
      // Enter sends, Shift+Enter breaks the line; never while an IME is composing Japanese.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.sendTyped();
      }
    });
    input.addEventListener("input", () => autoGrow(input));
    // As on a phone, the keyboard takes the rich menu's place.
    input.addEventListener("focus", () => this.closeRichMenu());
    // The chips scroll sideways as on a phone; a mouse wheel scrolls them too.
    this.$("line-quick-replies").addEventListener(
      "wheel",
      (event) => {
        if (Math.abs(event.deltaY) > Math.abs(event.deltaX)) {
          event.currentTarget.scrollLeft += event.deltaY;
          event.preventDefault();
        }
      },
      { passive: false },
    );
    this.$("line-follow").addEventListener("click", () => this.follow());
    this.$("line-photo").addEventListener("click", () => this.sendPhoto());
    this.$("line-menu-button").addEventListener("click", () => {
      this.$("line-menu").hidden = !this.$("line-menu").hidden;
    });
    this.$("line-unfollow").addEventListener("click", () => {
      this.$("line-menu").hidden = true;
      this.unfollow();
    });
    this.$("line-refollow").addEventListener("click", () => {
      this.$("line-menu").hidden = true;
      this.follow();
    });
    this.$("line-richmenu-toggle").addEventListener("click", () => this.toggleRichMenu());
    this.$("line-datepicker-ok").addEventListener("click", () => this.pickerDone());
    this.$("line-datepicker-cancel").addEventListener("click", () => this.closePicker());
  }

  async refresh() {
    this.update(await api.lineState(this.userId));
  }

  update(state) {
    this.state = state || this.state;
    this.forgetIfReset();
    // Chips and the rich menu change the chat's height: keep a chat that was at its end there.
    const stick = nearBottom(this.$("line-chat"));
    this.renderFollow();
    this.renderChat();
    this.renderQuickReplies();
    this.renderRichMenu();
    if (stick) this.scrollToEnd();
  }

  // -- what the owner does --------------------------------------------------------------------

  sendTyped() {
    const input = this.$("line-input");
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    autoGrow(input);
    this.sendText(text);
  }

  sendText(text) {
    this.deliver({ type: "message", text }, text);
  }

  sendPostback(data, params, displayText) {
    const event = { type: "postback", data: data ?? "" };
    if (params) event.params = params;
    this.deliver(event, displayText || null);
  }

  follow() {
    this.deliver({ type: "follow" }, null);
  }

  /** A photo from the phone (the emulator draws a sample picture and keeps it in LINE). */
  sendPhoto() {
    this.deliver({ type: "image" }, "📷 写真 / photo");
  }

  unfollow() {
    this.deliver({ type: "unfollow" }, null);
  }

  /** Queue one webhook event; `bubble` is what the owner's own side of the chat shows. */
  deliver(event, bubble) {
    this.queue = this.queue
      .then(async () => {
        // Read what already arrived first, so the bubble lands after it and before replies.
        await this.refresh().catch(() => {});
        const mine = bubble === null ? null : this.addBubble(bubble);
        try {
          await api.lineEvent(this.userId, event);
        } catch (error) {
          if (mine) mine.failed = true;
          toast(`送信できませんでした / not delivered: ${error.message}`);
        }
        saveSent(this.userId, this.sent);
        this.renderChat();
        this.poke();
      })
      .catch((error) => console.error(error));
    return this.queue;
  }

  addBubble(text) {
    const afterSeq = this.state.messages.reduce((max, m) => Math.max(max, m.seq), 0);
    const mine = { id: `u${Date.now()}-${this.sent.length}`, text, at: this.now(), afterSeq };
    this.sent.push(mine);
    this.renderChat();
    this.scrollToEnd();
    return mine;
  }

  /** A tap on any LINE action: quick reply, flex/template button or rich menu area. */
  onAction = (action) => {
    switch (action?.type) {
      case "postback":
        if (action.inputOption === "openKeyboard" && action.fillInText) {
          const input = this.$("line-input");
          input.value = action.fillInText;
          input.focus();
        }
        this.sendPostback(action.data, null, action.displayText ?? action.text);
        break;
      case "message":
        this.sendText(action.text ?? action.label ?? "");
        break;
      case "uri":
        window.open(action.uri || action.altUri?.desktop, "_blank", "noopener");
        break;
      case "datetimepicker":
        this.openPicker(action);
        break;
      case "richmenuswitch":
        this.sendPostback(action.data, {
          newRichMenuAliasId: action.richMenuAliasId,
          status: "SUCCESS",
        });
        break;
      case "clipboard":
        navigator.clipboard?.writeText(action.clipboardText ?? "");
        toast("コピーしました / copied", "info");
        break;
      default:
        toast(`この操作はエミュレーターでは使えません (${action?.type ?? "?"})`, "info");
    }
  };

  // -- date picker ------------------------------------------------------------------------

  openPicker(action) {
    const mode = PICKER_INPUT[action.mode] ? action.mode : "date";
    const input = this.$("line-datepicker-input");
    input.type = PICKER_INPUT[mode];
    input.min = action.min || "";
    input.max = action.max || "";
    input.value = action.initial || this.defaultPickerValue(mode);
    this.$("line-picker-label").textContent = action.label || "日時を選択";
    this.picking = { ...action, mode };
    this.closeRichMenu();
    this.$("line-picker").hidden = false;
    input.focus();
  }

  defaultPickerValue(mode) {
    const nowJst = jst.dateKey(this.now());
    if (mode === "date") return nowJst;
    if (mode === "time") return "";
    return nowJst ? `${nowJst}T09:00` : "";
  }

  pickerDone() {
    const action = this.picking;
    const value = this.$("line-datepicker-input").value;
    if (!action) return;
    if (!value) {
      toast("日時を選んでください / pick a value", "info");
      return;
    }
    this.closePicker();
    // LINE sends no message bubble for a picker, only the postback with the chosen value.
    const params = { [action.mode]: action.mode === "datetime" ? value.slice(0, 16) : value };
    this.sendPostback(action.data, params);
  }

  closePicker() {
    this.picking = null;
    this.$("line-picker").hidden = true;
  }

  // -- drawing -------------------------------------------------------------------------------

  renderFollow() {
    const followed = Boolean(this.state.followed);
    this.$("line-follow-banner").hidden = followed;
    this.$("line-unfollow").hidden = !followed;
    this.$("line-refollow").hidden = followed;
    this.$("line-phone").classList.toggle("is-blocked", !followed);
  }

  /** The chat as keyed items: bot messages and the owner's bubbles, with day separators. */
  chatItems() {
    const bots = [...(this.state.messages || [])].sort((a, b) => a.seq - b.seq);
    const mine = [...this.sent];
    const merged = [];
    let i = 0;
    for (const bot of bots) {
      while (i < mine.length && mine[i].afterSeq < bot.seq) merged.push({ user: mine[i++] });
      merged.push({ bot });
    }
    while (i < mine.length) merged.push({ user: mine[i++] });

    const items = [];
    let day = null;
    merged.forEach((entry, index) => {
      const at = entry.bot ? entry.bot.at : entry.user.at;
      const key = jst.dateKey(at);
      if (key && key !== day) {
        day = key;
        items.push({ key: `day:${key}`, hash: key, build: () => daySeparator(at) });
      }
      const previous = merged[index - 1];
      const first = entry.bot && !previous?.bot; // the name shows on the first of a run
      items.push(entry.bot ? this.botItem(entry.bot, first) : userItem(entry.user));
    });
    return { items, last: merged[merged.length - 1] || null };
  }

  botItem(entry, first) {
    const message = entry.message || {};
    return {
      key: `bot:${entry.seq}`,
      hash: hashOf([message, first]),
      build: () => {
        const name = message.sender?.name || this.accountName;
        return el(
          "div",
          { class: "line-row line-row-bot" },
          el("div", { class: "line-avatar", title: name }, first ? name.slice(0, 1) : ""),
          el(
            "div",
            { class: "line-col" },
            first ? el("div", { class: "line-name" }, name) : null,
            el(
              "div",
              { class: "line-line" },
              el(
                "div",
                {
                  class: `line-bubble line-bubble-bot${isCard(message) ? " is-card" : ""}`,
                  testid: "line-bubble-bot",
                  dataset: {
                    seq: String(entry.seq),
                    type: message.type || "",
                    kind: entry.kind || "",
                  },
                },
                renderMessage(message, this.onAction),
              ),
              el("div", { class: "line-meta" }, jst.time(entry.at)),
            ),
          ),
        );
      },
    };
  }

  renderChat() {
    const chat = this.$("line-chat");
    const stick = nearBottom(chat);
    const { items, last } = this.chatItems();
    const before = chat.childElementCount;
    reconcile(chat, items);
    this.last = last;
    if (stick || chat.childElementCount > before) this.scrollToEnd();
  }

  scrollToEnd() {
    const chat = this.$("line-chat");
    chat.scrollTop = chat.scrollHeight;
  }

  /** Chips only while the bot's message is the last thing in the chat (as LINE does). */
  renderQuickReplies() {
    const bar = this.$("line-quick-replies");
    const last = this.last?.bot;
    const items = last?.message?.quickReply?.items || [];
    const key = last && items.length ? `${last.seq}:${hashOf(items)}` : null;
    if (key === this.quickKey) return;
    this.quickKey = key;
    bar.replaceChildren(...(key ? renderQuickReply(items, this.onAction) : []));
    bar.hidden = !key;
    if (!key) this.closePicker();
  }

  renderRichMenu() {
    const menu = this.state.rich_menu;
    const key = menu ? hashOf(menu) : null;
    if (key === this.menuKey) return;
    this.menuKey = key;
    const toggle = this.$("line-richmenu-toggle");
    const panel = this.$("line-richmenu-panel");
    this.$("line-richmenu").hidden = !menu;
    if (!menu) {
      panel.replaceChildren();
      return;
    }
    toggle.querySelector(".label").textContent = menu.chatBarText || "メニュー";
    panel.replaceChildren(richMenuBoard(menu, this.onAction));
    // Closed at first whatever LINE's `selected` says: the chat needs the room in a laptop
    // window. Once the owner opened it, it stays open when the menu is switched.
    this.setRichMenuOpen(Boolean(this.richMenuOpen));
  }

  toggleRichMenu() {
    this.richMenuOpen = this.$("line-richmenu-panel").hidden;
    this.setRichMenuOpen(this.richMenuOpen);
  }

  closeRichMenu() {
    this.richMenuOpen = false;
    this.setRichMenuOpen(false);
  }

  setRichMenuOpen(open) {
    this.$("line-richmenu-panel").hidden = !open;
    this.$("line-richmenu-toggle").querySelector(".caret").textContent = open ? "▾" : "▴";
    this.$("line-richmenu-toggle").setAttribute("aria-expanded", String(open));
  }

  /** The service was restarted with a fresh database: the owner's old bubbles go too. */
  forgetIfReset() {
    const maxSeq = (this.state.messages || []).reduce((max, m) => Math.max(max, m.seq), 0);
    if (this.sent.some((mine) => mine.afterSeq > maxSeq)) {
      this.sent = [];
      saveSent(this.userId, this.sent);
    }
  }
}

function userItem(mine) {
  return {
    key: `me:${mine.id}`,
    hash: hashOf([mine.text, mine.failed]),
    build: () =>
      el(
        "div",
        { class: "line-row line-row-user" },
        el(
          "div",
          { class: "line-line" },
          el(
            "div",
            { class: "line-meta" },
            mine.failed
              ? el("span", { class: "line-failed", title: "not delivered" }, "送信失敗")
              : el("span", {}, "既読"),
            el("br"),
            jst.time(mine.at),
          ),
          el(
            "div",
            { class: "line-bubble line-bubble-user", testid: "line-bubble-user" },
            mine.text,
          ),
        ),
      ),
  };
}

function daySeparator(at) {
  return el("div", { class: "line-day" }, el("span", {}, jst.day(at)));
}

/** The rich menu: the uploaded image with its tap areas over it, or labelled tiles. */
function richMenuBoard(menu, onAction) {
  const width = menu.size?.width || 2500;
  const height = menu.size?.height || 1686;
  const board = el("div", {
    class: `richmenu-board${menu.image_url ? " has-image" : ""}`,
    style: { aspectRatio: `${width} / ${height}` },
  });
  if (menu.image_url) board.append(el("img", { src: menu.image_url, alt: "" }));
  for (const area of menu.areas || []) {
    const b = area.bounds || {};
    const pct = (value, total) => `${((value || 0) / total) * 100}%`;
    const label = area.action?.label || area.action?.text || area.action?.data || "";
    board.append(
      el(
        "button",
        {
          type: "button",
          class: "richmenu-area",
          testid: "line-richmenu-area",
          title: label,
          "aria-label": label,
          dataset: { actionType: area.action?.type || "" },
          style: {
            left: pct(b.x, width),
            top: pct(b.y, height),
            width: pct(b.width, width),
            height: pct(b.height, height),
          },
          onclick: () => onAction(area.action || {}),
        },
        el("span", { class: "richmenu-label" }, label),
      ),
    );
  }
  return board;
}

function autoGrow(textarea) {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight, 120)}px`;
}

// The owner's side of the chat survives a page reload (per LINE user id).
function loadSent(userId) {
  try {
    const stored = JSON.parse(sessionStorage.getItem(`yorozu-emulator:line:${userId}`) || "[]");
    return Array.isArray(stored) ? stored : [];
  } catch {
    return [];
  }
}

function saveSent(userId, sent) {
  try {
    sessionStorage.setItem(`yorozu-emulator:line:${userId}`, JSON.stringify(sent.slice(-500)));
  } catch {
    // Storage full or disabled: the bubbles still show until the page is reloaded.
  }
}
