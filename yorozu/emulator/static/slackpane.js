// The Slack side: one workspace seen as one persona (partner staff, a CO or the CCO).
//
// Everything the persona does (shortcuts, slash commands, button clicks, modal submissions,
// 👀, opening the Home tab) is prepared and signed by the emulator API and then sent by
// this page to the service's real /slack/events, whose answer is read here.

import { api } from "./api.js";
import { bi, el, hashOf, jst, nearBottom, reconcile, toast } from "./dom.js";
import { ModalStack } from "./modal.js";
import { collectState, mrkdwn, renderBlocks } from "./slack.js";

const ROLES = {
  partner: ["支援機関", "partner staff"],
  co: ["CO", "coordinator"],
  cco: ["CCO", "chief coordinator"],
  hq: ["本部", "HQ"],
};
const BOT_NAME = "よろず支援拠点";
const PERSONA_KEY = "yorozu-emulator:slack:persona";

export class SlackPane {
  constructor(config, now, poke) {
    this.config = config.slack || {};
    this.personas = this.config.personas || [];
    this.channels = this.config.channels || [];
    this.now = now;
    this.poke = poke;
    this.state = emptyState();
    this.where = this.channels.length
      ? { kind: "channel", id: this.channels[0].id }
      : { kind: "dm" };
    this.local = []; // command answers only the HTTP response carried: {channel, text, blocks, at}
    this.reacted = new Set(); // "persona:channel:ts" that got a 👀 from this page
    this.threadTarget = null; // {channel, ts} the composer replies under, or null
    this.seen = new Map(); // location key → message count when last looked at
    this.homeKey = null;
    this.$ = (id) => document.getElementById(id);
    this.modals = new ModalStack(this.$("slack-modal-layer"), {
      ctx: () => this.blockCtx(),
      submit: (item, values) =>
        this.send({ kind: "view_submission", view_id: item.viewId, values, view: item.view }),
      closed: (item) => this.send({ kind: "view_closed", view_id: item.viewId, view: item.view }),
      action: (item, action) =>
        this.send({
          kind: "block_action",
          container: { type: "view", view_id: item.viewId },
          action,
          values: collectValues(item),
          view: item.view,
        }).catch((error) => toast(error.message)),
    });
    const stored = sessionStorage.getItem(PERSONA_KEY);
    this.persona = this.personas.some((p) => p.user_id === stored)
      ? stored
      : this.config.default_persona || this.personas[0]?.user_id;
    this.wire();
  }

  // -- set-up ----------------------------------------------------------------------------------

  wire() {
    const picker = this.$("slack-persona");
    picker.replaceChildren(
      ...this.personas.map((p) =>
        el(
          "option",
          { value: p.user_id },
          `${p.name}（${ROLES[p.role]?.[0] ?? p.role}・${p.org ?? ""}）`,
        ),
      ),
    );
    picker.value = this.persona;
    picker.addEventListener("change", () => this.switchPersona(picker.value));
    this.linkConsole();

    this.$("slack-channels").replaceChildren(
      ...this.channels.map((channel) =>
        el(
          "button",
          {
            type: "button",
            class: "side-link",
            testid: `slack-channel-${channel.id}`,
            dataset: { where: `channel:${channel.id}` },
            onclick: () => this.go({ kind: "channel", id: channel.id }),
          },
          el("span", { class: "side-hash" }, "#"),
          el("span", { class: "side-name" }, channel.name),
          el("span", { class: "side-badge", hidden: true }),
        ),
      ),
    );
    this.$("slack-dm").addEventListener("click", () => this.go({ kind: "dm" }));
    this.$("slack-home").addEventListener("click", () => this.go({ kind: "home" }));

    const menu = this.$("slack-shortcuts-menu");
    this.$("slack-shortcuts-button").addEventListener("click", () => (menu.hidden = !menu.hidden));
    for (const button of menu.querySelectorAll("[data-callback-id]")) {
      button.addEventListener("click", () => {
        menu.hidden = true;
        this.send({ kind: "shortcut", callback_id: button.dataset.callbackId }).catch((e) =>
          toast(e.message),
        );
      });
    }
    this.$("slack-composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = this.$("slack-command").value.trim();
      if (value.startsWith("/") || (!this.threadTarget && this.where.kind !== "channel")) {
        this.runCommand();
      } else {
        this.postMessage();
      }
    });
    this.$("slack-thread-target-clear").addEventListener("click", () => this.replyIn(null));
    for (const hint of document.querySelectorAll("[data-command-hint]")) {
      hint.addEventListener("click", () => {
        this.$("slack-command").value = hint.dataset.commandHint;
        this.$("slack-command").focus();
      });
    }
    document.addEventListener("click", (event) => {
      // Menus close when clicking elsewhere, as in Slack.
      if (!event.target.closest("#slack-shortcuts")) menu.hidden = true;
      for (const open of document.querySelectorAll(".msg-menu:not([hidden])")) {
        if (!open.parentElement.contains(event.target)) open.hidden = true;
      }
    });
    this.renderPersona();
    this.renderLocation();
  }

  blockCtx() {
    return {
      userName: (id) => this.personas.find((p) => p.user_id === id)?.name,
      channelName: (id) => this.channels.find((c) => c.id === id)?.name,
      users: this.personas,
    };
  }

  /** The operations console, signed in as this persona (through the OIDC stand-in). */
  linkConsole() {
    const link = this.$("console-link");
    if (link) link.href = `/emulator/console?user=${encodeURIComponent(this.persona)}`;
  }

  switchPersona(userId) {
    this.persona = userId;
    sessionStorage.setItem(PERSONA_KEY, userId);
    this.linkConsole();
    this.modals.reset();
    this.state = emptyState();
    this.loaded = false;
    this.seen.clear();
    this.seeded = false;
    this.homeKey = null;
    this.renderPersona();
    this.render();
    if (this.where.kind === "home") this.openHome();
    this.poke();
  }

  // -- talking to the service ------------------------------------------------------------------

  async refresh() {
    const persona = this.persona;
    const state = await api.slackState(persona);
    if (persona !== this.persona) return; // switched while asking: drop the old answer
    this.state = { ...emptyState(), ...state };
    this.loaded = true;
    this.modals.sync(this.state.views);
    this.render();
  }

  async send(interaction) {
    // A modal this interaction opens must count as new: learn what is old first.
    if (this.modals.lastSeq === null) await this.refresh().catch(() => {});
    const answer = await api.slackInteraction(this.persona, interaction);
    this.poke();
    return answer;
  }

  /** Reply in a message's thread from the composer (null: write in the channel again). */
  replyIn(message) {
    this.threadTarget = message ? { channel: message.channel, ts: message.ts } : null;
    const box = this.$("slack-thread-target");
    box.hidden = !message;
    const input = this.$("slack-command");
    if (message) {
      const first = (message.text || "").split("\n")[0].slice(0, 40);
      this.$("slack-thread-target-label").textContent = first;
      input.placeholder = "返信: … と書くと相談者の LINE に届きます / start with 返信: to reach the owner";
      input.focus();
    } else {
      input.placeholder = "/yorozu status ・ メッセージ / message";
    }
  }

  /** The persona writes in the channel or the chosen thread, as in the Slack client. */
  async postMessage() {
    const input = this.$("slack-command");
    const text = input.value.trim();
    if (!text) return;
    const target = this.threadTarget;
    const channel = target ? target.channel : this.where.kind === "channel" ? this.where.id : null;
    if (!channel) {
      toast("チャンネルかスレッドを選んでください / pick a channel or a thread");
      return;
    }
    try {
      await this.send({ kind: "message", channel, thread_ts: target ? target.ts : null, text });
      input.value = "";
    } catch (error) {
      toast(error.message);
    }
  }

  async runCommand() {
    const input = this.$("slack-command");
    const match = input.value.trim().match(/^(\/\S+)\s*([\s\S]*)$/);
    if (!match) {
      toast("スラッシュコマンドを入力してください（例: /yorozu status）/ type a slash command");
      return;
    }
    const channel = this.commandChannel();
    try {
      const answer = await this.send({
        kind: "command",
        command: match[1],
        text: match[2],
        channel,
      });
      input.value = "";
      this.showCommandAnswer(channel, answer);
    } catch (error) {
      toast(error.message);
    }
  }

  /** A slash command's answer in the HTTP response never reaches the emulator API, so the
   * page shows it itself (as an ephemeral message, unless it says in_channel). */
  showCommandAnswer(channel, answer) {
    const body = answer.json;
    if (body && (body.text || body.blocks)) {
      this.local.push({
        persona: this.persona,
        shownIn: locationKey(this.where),
        channel,
        text: body.text || "",
        blocks: body.blocks || null,
        at: this.now(),
        inChannel: body.response_type === "in_channel",
      });
    } else if (!body && answer.text.trim()) {
      this.local.push({
        persona: this.persona,
        shownIn: locationKey(this.where),
        channel,
        text: answer.text,
        blocks: null,
        at: this.now(),
      });
    }
    this.render();
  }

  commandChannel() {
    if (this.where.kind === "channel") return this.where.id;
    return this.dmChannel() || this.channels[0]?.id || null;
  }

  dmChannel() {
    return (this.state.dm || [])[0]?.channel || null;
  }

  // -- navigation ------------------------------------------------------------------------------

  go(where) {
    this.where = where;
    if (this.threadTarget && this.threadTarget.channel !== where.id) this.replyIn(null);
    this.renderLocation();
    this.render();
    if (where.kind === "home") this.openHome();
    const list = this.$("slack-messages");
    list.scrollTop = list.scrollHeight;
  }

  /** Slack sends app_home_opened every time the tab is opened. */
  openHome() {
    this.send({ kind: "app_home_opened" }).catch((error) => toast(error.message));
  }

  // -- drawing ---------------------------------------------------------------------------------

  renderPersona() {
    const p = this.personas.find((x) => x.user_id === this.persona);
    const role = ROLES[p?.role] || [p?.role ?? "", ""];
    this.$("slack-role").replaceChildren(
      p ? el("span", { class: `role role-${p.role}` }, bi(role[0], role[1])) : "",
      p ? el("span", { class: "muted" }, ` ${p.org ?? ""} · ${p.user_id}`) : "",
    );
  }

  renderLocation() {
    const where = this.where;
    for (const link of document.querySelectorAll("#slack-pane .side-link")) {
      link.classList.toggle("is-active", link.dataset.where === locationKey(where));
    }
    const home = where.kind === "home";
    this.$("slack-messages").hidden = home;
    this.$("slack-home-view").hidden = !home;
    this.$("slack-composer").hidden = home;
    const title = this.$("slack-title");
    if (where.kind === "channel") {
      const channel = this.channels.find((c) => c.id === where.id);
      title.replaceChildren(`# ${channel?.name ?? where.id}`);
    } else if (where.kind === "dm") {
      title.replaceChildren(BOT_NAME, el("small", { class: "muted" }, " DM"));
    } else {
      title.replaceChildren(BOT_NAME, el("small", { class: "muted" }, " ホーム / Home"));
    }
  }

  render() {
    this.renderBadges();
    if (this.where.kind === "home") this.renderHome();
    else this.renderMessages();
  }

  renderBadges() {
    if (!this.loaded) return;
    const counts = new Map(
      this.channels.map((c) => [`channel:${c.id}`, (this.state.channels[c.id] || []).length]),
    );
    counts.set("dm", (this.state.dm || []).length);
    if (!this.seeded) {
      // What was there before the page (or persona) opened is not news.
      this.seeded = true;
      for (const [key, total] of counts) this.seen.set(key, total);
    }
    for (const link of document.querySelectorAll("#slack-pane .side-link")) {
      const key = link.dataset.where;
      const total = counts.get(key) ?? 0;
      if (key === locationKey(this.where)) this.seen.set(key, total);
      const unseen = total - (this.seen.get(key) ?? 0);
      const badge = link.querySelector(".side-badge");
      if (!badge) continue;
      badge.hidden = unseen <= 0;
      badge.textContent = unseen > 0 ? String(unseen) : "";
      link.classList.toggle("is-unread", unseen > 0);
    }
  }

  renderMessages() {
    const list = this.$("slack-messages");
    const stick = nearBottom(list);
    const before = list.childElementCount;
    const items = this.timeline().map((entry) =>
      entry.ephemeral ? this.ephemeralItem(entry) : this.messageItem(entry),
    );
    if (!items.length) {
      items.push({
        key: "empty",
        hash: "empty",
        build: () =>
          el(
            "div",
            { class: "slack-empty muted" },
            bi("まだメッセージはありません", "No messages yet"),
          ),
      });
    }
    reconcile(list, items);
    if (stick || list.childElementCount > before) list.scrollTop = list.scrollHeight;
  }

  /** Messages, then ephemerals, in time order; thread replies right after their parent. */
  timeline() {
    const where = this.where;
    // The DM shows whatever is not in one of the hub channels (the D… conversation).
    const here = (channel) =>
      where.kind === "channel"
        ? channel === where.id
        : !this.channels.some((c) => c.id === channel);
    const messages =
      where.kind === "channel" ? this.state.channels[where.id] || [] : this.state.dm || [];
    const ephemerals = [
      ...(this.state.ephemerals || [])
        .map((e, i) => ({ ...e, ephemeral: true, key: `e:${i}:${e.at}` }))
        .filter((e) => here(e.channel)),
      ...this.local
        .map((e, i) => ({ ...e, ephemeral: !e.inChannel, key: `l:${i}:${e.at}` }))
        .filter((e) => e.persona === this.persona && e.shownIn === locationKey(where)),
    ];
    const all = [...messages.map((m) => ({ ...m, key: `m:${m.channel}:${m.ts}` })), ...ephemerals];
    all.sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || compareTs(a.ts, b.ts));
    const roots = all.filter((m) => !m.thread_ts || m.thread_ts === m.ts);
    const replies = all.filter((m) => m.thread_ts && m.thread_ts !== m.ts);
    const ordered = [];
    for (const root of roots) {
      ordered.push(root);
      for (const reply of replies) if (reply.thread_ts === root.ts) ordered.push(reply);
    }
    for (const reply of replies) if (!ordered.includes(reply)) ordered.push(reply);
    return ordered;
  }

  messageItem(message) {
    const reactedKey = `${this.persona}:${message.channel}:${message.ts}`;
    // The service's reactions, plus the 👀 this page just sent (until the service reports it).
    const reactions = [
      ...new Set([...(message.reactions || []), ...(this.reacted.has(reactedKey) ? ["eyes"] : [])]),
    ];
    return {
      key: message.key,
      hash: hashOf([
        message.text,
        message.blocks,
        message.edited,
        message.thread_ts,
        reactions,
        message.files,
      ]),
      build: () => {
        const isReply = message.thread_ts && message.thread_ts !== message.ts;
        const inChannel = this.channels.some((c) => c.id === message.channel);
        const human = message.user && message.user !== "bot";
        const author = human
          ? this.personas.find((p) => p.user_id === message.user)?.name || message.user
          : BOT_NAME;
        const menu = el(
          "div",
          { class: "msg-menu", hidden: true },
          el(
            "button",
            {
              type: "button",
              testid: "slack-message-shortcut-handover_message",
              onclick: () => {
                menu.hidden = true;
                this.send({
                  kind: "message_shortcut",
                  callback_id: "handover_message",
                  channel: message.channel,
                  ts: message.ts,
                }).catch((e) => toast(e.message));
              },
            },
            bi("このメッセージから引き継ぐ", "Hand over from this message"),
          ),
        );
        return el(
          "div",
          {
            class: `slack-msg${isReply ? " is-reply" : ""}`,
            testid: "slack-message",
            dataset: { channel: message.channel, ts: message.ts },
          },
          el("div", { class: `slack-avatar${human ? " is-person" : ""}` }, human ? author[0] : "よ"),
          el(
            "div",
            { class: "slack-msg-body" },
            el(
              "div",
              { class: "slack-msg-head" },
              el("b", {}, author),
              human ? null : el("span", { class: "app-badge" }, "APP"),
              el("time", { title: jst.full(message.at) }, jst.time(message.at)),
              message.edited ? el("span", { class: "muted edited" }, "（編集済み）") : null,
              isReply ? el("span", { class: "muted" }, " ↳ スレッド返信") : null,
            ),
            this.content(message, { type: "message", channel: message.channel, ts: message.ts }),
            reactions.length
              ? el(
                  "div",
                  { class: "slack-reactions" },
                  reactions.map((r) =>
                    el(
                      "span",
                      { class: "reaction is-mine" },
                      `${r === "eyes" ? "👀" : `:${r}:`} 1`,
                    ),
                  ),
                )
              : null,
          ),
          el(
            "div",
            { class: "msg-tools" },
            inChannel && !isReply
              ? el(
                  "button",
                  {
                    type: "button",
                    title: "スレッドで返信 / reply in thread",
                    testid: "slack-reply-in-thread",
                    onclick: () => this.replyIn(message),
                  },
                  "💬",
                )
              : null,
            inChannel
              ? el(
                  "button",
                  {
                    type: "button",
                    title: "👀 リアクション / react with :eyes:",
                    testid: "slack-reaction-eyes",
                    onclick: () => this.react(message),
                  },
                  "👀",
                )
              : null,
            el(
              "button",
              {
                type: "button",
                title: "その他 / more actions",
                testid: "slack-message-menu",
                onclick: () => (menu.hidden = !menu.hidden),
              },
              "⋯",
            ),
            menu,
          ),
        );
      },
    };
  }

  ephemeralItem(entry) {
    return {
      key: entry.key,
      hash: hashOf([entry.text, entry.blocks, entry.ephemeral]),
      build: () =>
        el(
          "div",
          {
            class: `slack-msg${entry.ephemeral ? " is-ephemeral" : ""}`,
            testid: entry.ephemeral ? "slack-ephemeral" : "slack-message",
          },
          el("div", { class: "slack-avatar" }, "よ"),
          el(
            "div",
            { class: "slack-msg-body" },
            el(
              "div",
              { class: "slack-msg-head" },
              el("b", {}, BOT_NAME),
              el("span", { class: "app-badge" }, "APP"),
              el("time", { title: jst.full(entry.at) }, jst.time(entry.at)),
            ),
            this.content(entry, {
              type: "message",
              channel: entry.channel,
              ts: entry.ts ?? null,
              is_ephemeral: true,
            }),
            entry.ephemeral
              ? el(
                  "div",
                  { class: "ephemeral-note" },
                  bi("あなただけに表示されています", "Only visible to you"),
                )
              : null,
          ),
        ),
    };
  }

  /** Blocks when there are any, else the text as mrkdwn (what Slack shows). */
  content(message, container) {
    const ctx = {
      ...this.blockCtx(),
      surface: "message",
      onAction: (action) =>
        this.send({ kind: "block_action", container, action }).catch((error) =>
          toast(error.message),
        ),
    };
    const body = message.blocks?.length
      ? renderBlocks(message.blocks, ctx)
      : el("div", { class: "bk-text" }, mrkdwn(message.text, ctx));
    if (!message.files?.length) return body;
    return el(
      "div",
      {},
      body,
      message.files.map((file) =>
        (file.mimetype || "").startsWith("image/")
          ? el("img", {
              class: "slack-file-image",
              src: file.url,
              alt: file.title || file.name,
              testid: "slack-file-image",
            })
          : el("a", { class: "slack-file", href: file.url, testid: "slack-file" }, `📎 ${file.name}`),
      ),
    );
  }

  react(message) {
    const key = `${this.persona}:${message.channel}:${message.ts}`;
    if (this.reacted.has(key)) return;
    this.reacted.add(key);
    this.render();
    this.send({
      kind: "reaction_added",
      reaction: "eyes",
      channel: message.channel,
      ts: message.ts,
    }).catch((error) => {
      this.reacted.delete(key);
      this.render();
      toast(error.message);
    });
  }

  renderHome() {
    const host = this.$("slack-home-view");
    const home = this.state.home;
    const key = hashOf([this.persona, home]);
    if (key === this.homeKey) return;
    this.homeKey = key;
    if (!home) {
      host.replaceChildren(
        el(
          "div",
          { class: "slack-empty muted" },
          bi(
            "ホームを読み込み中…（まだ公開されていません）",
            "Loading the Home tab… (nothing published yet)",
          ),
        ),
      );
      return;
    }
    const ctx = {
      ...this.blockCtx(),
      surface: "home",
      onAction: (action) =>
        this.send({
          kind: "block_action",
          container: { type: "view", view_id: home.id },
          action,
          view: home,
        }).catch((error) => toast(error.message)),
    };
    const scroll = host.scrollTop;
    host.replaceChildren(
      el("div", { class: "slack-home", testid: "slack-home-view" }, renderBlocks(home.blocks, ctx)),
    );
    host.scrollTop = scroll;
  }
}

function emptyState() {
  return { channels: {}, dm: [], ephemerals: [], views: [], home: null };
}

function locationKey(where) {
  return where.kind === "channel" ? `channel:${where.id}` : where.kind;
}

/** Slack ts strings ("1780275600.000100") in order, without floating-point rounding. */
function compareTs(a, b) {
  if (!a || !b) return a ? -1 : b ? 1 : 0;
  const [as, au = "0"] = a.split(".");
  const [bs, bu = "0"] = b.split(".");
  return Number(as) - Number(bs) || Number(au) - Number(bu);
}

function collectValues(item) {
  return item.body ? collectState(item.body) : {};
}
