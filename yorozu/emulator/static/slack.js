// Slack Block Kit (messages, modals, the App Home) as DOM, and a modal's state as Slack
// sends it in view_submission (`view.state.values`).
//
// Interactive elements report through `ctx.onAction(action)` with the action object Slack
// puts in a block_actions payload. Stateful elements (inputs, selects, pickers...) are
// registered in `controls` so the modal can read and restore their values without knowing
// how each one is drawn.

import { el, externalLink } from "./dom.js";

/** element node → {type, get(): state, set(state)} */
const controls = new WeakMap();

// -- mrkdwn ---------------------------------------------------------------------------------

const EMOJI = {
  eyes: "👀",
  white_check_mark: "✅",
  heavy_check_mark: "✔️",
  warning: "⚠️",
  calendar: "📅",
  spiral_calendar_pad: "🗓",
  bell: "🔔",
  memo: "📝",
  pushpin: "📌",
  inbox_tray: "📥",
  outbox_tray: "📤",
  hourglass: "⌛",
  hourglass_flowing_sand: "⏳",
  star: "⭐",
  x: "❌",
  information_source: "ℹ️",
  handshake: "🤝",
  office: "🏢",
  telephone_receiver: "📞",
  email: "✉️",
  rotating_light: "🚨",
  tada: "🎉",
  wave: "👋",
  point_right: "👉",
  red_circle: "🔴",
  large_green_circle: "🟢",
  large_yellow_circle: "🟡",
};

const unescapeSlack = (text) =>
  String(text ?? "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

/**
 * Slack's mrkdwn: *bold*, _italic_, ~strike~, `code`, ```pre```, > quotes, <url|label>,
 * <@U…> and <#C…> mentions, :emoji: and line breaks. Bold/italic markers next to Japanese
 * are honoured (Slack's own client is stricter; readable beats faithful here).
 */
export function mrkdwn(text, ctx = {}) {
  const frag = document.createDocumentFragment();
  const parts = String(text ?? "").split("```");
  if (parts.length % 2 === 0) parts.splice(-2, 2, parts.slice(-2).join("```")); // unclosed
  parts.forEach((part, index) => {
    if (index % 2 === 1)
      frag.append(el("pre", { class: "bk-pre" }, unescapeSlack(part.replace(/^\n/, ""))));
    else frag.append(quotes(part, ctx));
  });
  return frag;
}

function quotes(text, ctx) {
  const frag = document.createDocumentFragment();
  const lines = text.split("\n");
  let quote = null;
  lines.forEach((line, index) => {
    if (line.startsWith(">")) {
      if (!quote) {
        quote = el("blockquote", { class: "bk-quote" });
        frag.append(quote);
      } else {
        quote.append(el("br"));
      }
      quote.append(inline(line.replace(/^>\s?/, ""), ctx));
      return;
    }
    quote = null;
    frag.append(inline(line, ctx));
    if (index < lines.length - 1 && !lines[index + 1].startsWith(">")) frag.append(el("br"));
  });
  return frag;
}

const TOKEN = new RegExp(
  [
    "(`[^`\\n]+`)",
    "(<[^<>\\n]+>)",
    "((?<![A-Za-z0-9_*])\\*(?!\\s)[^*\\n]+?\\*(?![A-Za-z0-9_*]))",
    "((?<![A-Za-z0-9_])_(?!\\s)[^_\\n]+?_(?![A-Za-z0-9_]))",
    "((?<![A-Za-z0-9_~])~(?!\\s)[^~\\n]+?~(?![A-Za-z0-9_~]))",
    "(:[a-z0-9_+-]+:)",
  ].join("|"),
  "g",
);

function inline(text, ctx) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(TOKEN)) {
    if (match.index > last) frag.append(unescapeSlack(text.slice(last, match.index)));
    const token = match[0];
    const inner = token.slice(1, -1);
    if (match[1]) frag.append(el("code", { class: "bk-code" }, unescapeSlack(inner)));
    else if (match[2]) frag.append(angle(inner, ctx));
    else if (match[3]) frag.append(el("b", {}, inline(inner, ctx)));
    else if (match[4]) frag.append(el("i", {}, inline(inner, ctx)));
    else if (match[5]) frag.append(el("s", {}, inline(inner, ctx)));
    else frag.append(EMOJI[inner] ?? token);
    last = match.index + token.length;
  }
  if (last < text.length) frag.append(unescapeSlack(text.slice(last)));
  return frag;
}

/** The inside of <…>: a link, a mention, a channel, a special mention or a date. */
function angle(inner, ctx) {
  const bar = inner.indexOf("|");
  const target = bar >= 0 ? inner.slice(0, bar) : inner;
  const label = bar >= 0 ? unescapeSlack(inner.slice(bar + 1)) : null;
  if (/^@[UW]/.test(target)) {
    const id = target.slice(1);
    return el("span", { class: "bk-mention", title: id }, `@${label || ctx.userName?.(id) || id}`);
  }
  if (/^#[CGD]/.test(target)) {
    const id = target.slice(1);
    return el(
      "span",
      { class: "bk-mention", title: id },
      `#${label || ctx.channelName?.(id) || id}`,
    );
  }
  if (target.startsWith("!date^")) return el("span", {}, label || target);
  if (target.startsWith("!subteam^"))
    return el("span", { class: "bk-mention" }, `@${label || "group"}`);
  if (target.startsWith("!")) return el("span", { class: "bk-mention" }, `@${target.slice(1)}`);
  const href = unescapeSlack(target);
  return externalLink(href, label || href);
}

/** A text object ({type: plain_text|mrkdwn, text}) as DOM. */
export function textObject(object, ctx) {
  if (!object) return document.createDocumentFragment();
  if (typeof object === "string") return mrkdwn(object, ctx);
  if (object.type === "mrkdwn") return mrkdwn(object.text, ctx);
  return document.createTextNode(object.text ?? "");
}

const plainText = (object) => (typeof object === "string" ? object : (object?.text ?? ""));

// -- blocks ---------------------------------------------------------------------------------

/**
 * Blocks as DOM. ctx: {surface: "message"|"modal"|"home", onAction(action), userName(id),
 * channelName(id), users: [{user_id, name}]}.
 */
export function renderBlocks(blocks, ctx) {
  const root = el("div", { class: "bk-blocks" });
  (blocks || []).forEach((block, index) => {
    const blockId = block.block_id || `b${index}`; // Slack generates one when none is given
    let node;
    try {
      node = (BLOCKS[block.type] || unknownBlock)(block, blockId, ctx);
    } catch (error) {
      console.error("could not render block", block, error);
      node = unknownBlock(block);
    }
    node.dataset.blockId = blockId;
    node.dataset.blockType = block.type || "";
    root.append(node);
  });
  return root;
}

const BLOCKS = {
  section(block, blockId, ctx) {
    const main = el("div", { class: "bk-section-main" });
    if (block.text) main.append(el("div", { class: "bk-text" }, textObject(block.text, ctx)));
    if (block.fields?.length) {
      main.append(
        el(
          "div",
          { class: "bk-fields" },
          block.fields.map((field) => el("div", { class: "bk-field" }, textObject(field, ctx))),
        ),
      );
    }
    const node = el("div", { class: "bk-section" }, main);
    if (block.accessory) {
      node.append(
        el("div", { class: "bk-accessory" }, element(block.accessory, blockId, 0, ctx, false)),
      );
    }
    return node;
  },
  header: (block) => el("div", { class: "bk-header" }, plainText(block.text)),
  divider: () => el("hr", { class: "bk-divider" }),
  context: (block, blockId, ctx) =>
    el(
      "div",
      { class: "bk-context" },
      (block.elements || []).map((item) =>
        item.type === "image"
          ? el("img", {
              class: "bk-context-image",
              src: item.image_url || item.slack_file?.url,
              alt: item.alt_text || "",
            })
          : el("span", {}, textObject(item, ctx)),
      ),
    ),
  actions: (block, blockId, ctx) =>
    el(
      "div",
      { class: "bk-actions" },
      (block.elements || []).map((item, index) => element(item, blockId, index, ctx, false)),
    ),
  image: (block) =>
    el(
      "figure",
      { class: "bk-image" },
      block.title ? el("figcaption", {}, plainText(block.title)) : null,
      el("img", { src: block.image_url || block.slack_file?.url, alt: block.alt_text || "" }),
    ),
  input(block, blockId, ctx) {
    const control = element(block.element || {}, blockId, 0, ctx, !block.dispatch_action);
    return el(
      "div",
      { class: `bk-input${block.optional ? "" : " is-required"}` },
      el(
        "label",
        { class: "bk-label" },
        plainText(block.label),
        block.optional ? el("span", { class: "bk-optional" }, "（任意）") : null,
      ),
      control,
      block.hint ? el("div", { class: "bk-hint" }, plainText(block.hint)) : null,
      el("div", { class: "bk-error", testid: "slack-modal-error", hidden: true }),
    );
  },
  rich_text: (block, blockId, ctx) =>
    el("div", { class: "bk-rich" }, richElements(block.elements, ctx)),
  markdown: (block) => el("div", { class: "bk-text bk-markdown" }, block.text ?? ""),
  video: (block) =>
    el("div", { class: "bk-placeholder" }, `🎬 ${plainText(block.title) || "video"}`),
  file: () => el("div", { class: "bk-placeholder" }, "📎 file"),
};

function unknownBlock(block) {
  return el("div", { class: "bk-placeholder" }, `[${block?.type ?? "?"} block]`);
}

// rich_text: drawn simply (sections, lists, quotes, preformatted; inline styles).
function richElements(elements, ctx) {
  return (elements || []).map((item) => {
    switch (item.type) {
      case "rich_text_section":
        return el("div", {}, richInline(item.elements, ctx));
      case "rich_text_list": {
        const list = el(item.style === "ordered" ? "ol" : "ul", { class: "bk-list" });
        for (const entry of item.elements || [])
          list.append(el("li", {}, richInline(entry.elements, ctx)));
        return list;
      }
      case "rich_text_preformatted":
        return el("pre", { class: "bk-pre" }, richInline(item.elements, ctx));
      case "rich_text_quote":
        return el("blockquote", { class: "bk-quote" }, richInline(item.elements, ctx));
      default:
        return el("div", {}, richInline(item.elements, ctx));
    }
  });
}

function richInline(elements, ctx) {
  return (elements || []).map((item) => {
    let node;
    switch (item.type) {
      case "text":
        node = el("span", { class: "bk-pre-wrap" }, item.text ?? "");
        break;
      case "link":
        node = externalLink(item.url, item.text || item.url);
        break;
      case "user":
        node = el(
          "span",
          { class: "bk-mention" },
          `@${ctx.userName?.(item.user_id) || item.user_id}`,
        );
        break;
      case "channel":
        node = el(
          "span",
          { class: "bk-mention" },
          `#${ctx.channelName?.(item.channel_id) || item.channel_id}`,
        );
        break;
      case "emoji":
        node = document.createTextNode(
          item.unicode
            ? String.fromCodePoint(...item.unicode.split("-").map((h) => parseInt(h, 16)))
            : (EMOJI[item.name] ?? `:${item.name}:`),
        );
        return node;
      case "broadcast":
        node = el("span", { class: "bk-mention" }, `@${item.range}`);
        break;
      default:
        node = el("span", {}, item.text ?? item.fallback ?? "");
    }
    const style = item.style || {};
    if (style.bold) node.style.fontWeight = "700";
    if (style.italic) node.style.fontStyle = "italic";
    if (style.strike) node.style.textDecoration = "line-through";
    if (style.code) node.classList.add("bk-code");
    return node;
  });
}

// -- elements -------------------------------------------------------------------------------

/**
 * One block element. `quiet` (inside an input block without dispatch_action) means a change
 * is kept in the view's state and reported only on submit, as Slack does.
 */
function element(item, blockId, index, ctx, quiet) {
  const actionId = item.action_id || `a${index}`; // Slack generates one when none is given
  const make = ELEMENTS[item.type];
  if (!make) return el("span", { class: "bk-placeholder" }, `[${item.type}]`);
  const fire = (extra) => {
    if (quiet) return;
    ctx.onAction?.({ type: item.type, action_id: actionId, block_id: blockId, ...extra });
  };
  const node = make(item, fire, ctx);
  node.dataset.actionId = actionId;
  node.dataset.elementType = item.type;
  return node;
}

/** Registers a stateful element: what view.state.values holds for it, and how to restore it. */
function stateful(node, type, get, set) {
  node.dataset.bkStateful = "1";
  controls.set(node, { type, get: () => ({ type, ...get() }), set });
  return node;
}

const optionValue = (option) => option?.value ?? "";
/** An option as Slack reports it: text (and description) plus value. */
const cleanOption = (option) => {
  const out = { text: option.text, value: option.value };
  if (option.description) out.description = option.description;
  return out;
};

function allOptions(item) {
  if (item.option_groups) return item.option_groups.flatMap((group) => group.options || []);
  return item.options || [];
}

function confirmed(item) {
  const c = item.confirm;
  if (!c) return true;
  return window.confirm([plainText(c.title), plainText(c.text)].filter(Boolean).join("\n\n"));
}

const ELEMENTS = {
  button(item, fire) {
    return el(
      "button",
      {
        type: "button",
        class: `bk-button${item.style ? ` bk-${item.style}` : ""}`,
        testid: "slack-button",
        dataset: { value: item.value ?? "" },
        onclick: () => {
          if (!confirmed(item)) return;
          if (item.url) window.open(item.url, "_blank", "noopener");
          const action = { text: { type: "plain_text", text: plainText(item.text), emoji: true } };
          if (item.value !== undefined) action.value = item.value;
          if (item.style) action.style = item.style;
          fire(action);
        },
      },
      plainText(item.text),
    );
  },

  static_select: selectElement,
  external_select: selectElement,

  multi_static_select: multiSelect,
  multi_external_select: multiSelect,

  overflow(item, fire) {
    const menu = el("div", { class: "bk-overflow-menu", hidden: true });
    const node = el(
      "span",
      { class: "bk-overflow" },
      el(
        "button",
        {
          type: "button",
          class: "bk-button bk-overflow-button",
          testid: "slack-overflow",
          "aria-label": "その他 / more",
          onclick: () => (menu.hidden = !menu.hidden),
        },
        "⋯",
      ),
      menu,
    );
    for (const option of item.options || []) {
      menu.append(
        el(
          "button",
          {
            type: "button",
            class: "bk-overflow-item",
            testid: "slack-overflow-option",
            onclick: () => {
              menu.hidden = true;
              if (option.url) window.open(option.url, "_blank", "noopener");
              if (confirmed(item)) fire({ selected_option: cleanOption(option) });
            },
          },
          plainText(option.text),
        ),
      );
    }
    return node;
  },

  datepicker(item, fire) {
    const input = el("input", {
      type: "date",
      class: "bk-control",
      value: item.initial_date || "",
    });
    input.addEventListener("change", () => fire({ selected_date: input.value || null }));
    return stateful(
      el("span", { class: "bk-picker" }, input),
      item.type,
      () => ({ selected_date: input.value || null }),
      (state) => (input.value = state.selected_date || ""),
    );
  },

  timepicker(item, fire) {
    const input = el("input", {
      type: "time",
      class: "bk-control",
      value: item.initial_time || "",
    });
    input.addEventListener("change", () => fire({ selected_time: input.value || null }));
    return stateful(
      el("span", { class: "bk-picker" }, input),
      item.type,
      () => ({ selected_time: input.value || null }),
      (state) => (input.value = state.selected_time || ""),
    );
  },

  datetimepicker(item, fire) {
    const input = el("input", {
      type: "datetime-local",
      class: "bk-control",
      value: item.initial_date_time ? jstLocal(item.initial_date_time) : "",
    });
    const read = () => (input.value ? jstUnix(input.value) : null);
    input.addEventListener("change", () => fire({ selected_date_time: read() }));
    return stateful(
      el("span", { class: "bk-picker", title: "日本時間 / JST" }, input),
      item.type,
      () => ({ selected_date_time: read() }),
      (state) => (input.value = state.selected_date_time ? jstLocal(state.selected_date_time) : ""),
    );
  },

  radio_buttons(item, fire) {
    const name = `radio-${Math.random().toString(36).slice(2)}`;
    const options = item.options || [];
    const inputs = options.map((option) =>
      el("input", {
        type: "radio",
        name,
        value: optionValue(option),
        checked:
          optionValue(option) === optionValue(item.initial_option) &&
          item.initial_option !== undefined,
      }),
    );
    const read = () => {
      const index = inputs.findIndex((input) => input.checked);
      return index >= 0 ? cleanOption(options[index]) : null;
    };
    const node = el(
      "div",
      { class: "bk-choices" },
      options.map((option, i) => choiceLabel(inputs[i], option)),
    );
    node.addEventListener("change", () => fire({ selected_option: read() }));
    return stateful(
      node,
      item.type,
      () => ({ selected_option: read() }),
      (state) => {
        for (const input of inputs)
          input.checked = input.value === optionValue(state.selected_option);
      },
    );
  },

  checkboxes(item, fire) {
    const options = item.options || [];
    const initial = new Set((item.initial_options || []).map(optionValue));
    const inputs = options.map((option) =>
      el("input", {
        type: "checkbox",
        value: optionValue(option),
        checked: initial.has(optionValue(option)),
      }),
    );
    const read = () => options.filter((_, i) => inputs[i].checked).map(cleanOption);
    const node = el(
      "div",
      { class: "bk-choices" },
      options.map((option, i) => choiceLabel(inputs[i], option)),
    );
    node.addEventListener("change", () => fire({ selected_options: read() }));
    return stateful(
      node,
      item.type,
      () => ({ selected_options: read() }),
      (state) => {
        const chosen = new Set((state.selected_options || []).map(optionValue));
        for (const input of inputs) input.checked = chosen.has(input.value);
      },
    );
  },

  plain_text_input: textInput,
  email_text_input: textInput,
  url_text_input: textInput,
  rich_text_input: textInput,

  number_input(item, fire) {
    const input = el("input", {
      type: "number",
      class: "bk-control",
      step: item.is_decimal_allowed ? "any" : "1",
      min: item.min_value ?? null,
      max: item.max_value ?? null,
      value: item.initial_value ?? "",
      placeholder: plainText(item.placeholder),
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") fire({ value: input.value || null });
    });
    return stateful(
      el("span", { class: "bk-number" }, input),
      item.type,
      () => ({ value: input.value === "" ? null : input.value }),
      (state) => (input.value = state.value ?? ""),
    );
  },

  users_select: (item, fire, ctx) => idBox(item, fire, ctx, "selected_user", item.initial_user),
  conversations_select: (item, fire, ctx) =>
    idBox(item, fire, ctx, "selected_conversation", item.initial_conversation),
  channels_select: (item, fire, ctx) =>
    idBox(item, fire, ctx, "selected_channel", item.initial_channel),
  multi_users_select: (item, fire, ctx) =>
    idListBox(item, fire, ctx, "selected_users", item.initial_users),
  multi_conversations_select: (item, fire, ctx) =>
    idListBox(item, fire, ctx, "selected_conversations", item.initial_conversations),
  multi_channels_select: (item, fire, ctx) =>
    idListBox(item, fire, ctx, "selected_channels", item.initial_channels),

  image: (item) =>
    el("img", {
      class: "bk-accessory-image",
      src: item.image_url || item.slack_file?.url,
      alt: item.alt_text || "",
    }),
};

function choiceLabel(input, option) {
  return el(
    "label",
    { class: "bk-choice" },
    input,
    el(
      "span",
      {},
      textObject(option.text, {}),
      option.description
        ? el("small", { class: "bk-choice-description" }, plainText(option.description))
        : null,
    ),
  );
}

function selectElement(item, fire) {
  const options = allOptions(item);
  const select = el("select", { class: "bk-control bk-select", testid: "slack-select" });
  select.append(el("option", { value: "" }, plainText(item.placeholder) || "選択してください"));
  const addOption = (parent, option, index) =>
    parent.append(el("option", { value: String(index) }, plainText(option.text)));
  let index = 0;
  if (item.option_groups) {
    for (const group of item.option_groups) {
      const node = el("optgroup", { label: plainText(group.label) });
      for (const option of group.options || []) addOption(node, option, index++);
      select.append(node);
    }
  } else {
    for (const option of options) addOption(select, option, index++);
  }
  const find = (value) => options.findIndex((option) => optionValue(option) === optionValue(value));
  if (item.initial_option) select.value = String(find(item.initial_option));
  const read = () => (select.value === "" ? null : cleanOption(options[Number(select.value)]));
  select.addEventListener("change", () => {
    if (confirmed(item)) fire({ selected_option: read() });
  });
  return stateful(
    select,
    item.type,
    () => ({ selected_option: read() }),
    (state) => {
      const at = state.selected_option ? find(state.selected_option) : -1;
      select.value = at >= 0 ? String(at) : "";
    },
  );
}

/** A multi-select as a scrollable list of ticks: easier to use (and to test) than <select multiple>. */
function multiSelect(item, fire) {
  const options = allOptions(item);
  const initial = new Set((item.initial_options || []).map(optionValue));
  const inputs = options.map((option) =>
    el("input", {
      type: "checkbox",
      value: optionValue(option),
      checked: initial.has(optionValue(option)),
    }),
  );
  const read = () => options.filter((_, i) => inputs[i].checked).map(cleanOption);
  const summary = el("div", { class: "bk-multi-summary" });
  const showSummary = () => {
    const chosen = read();
    summary.textContent = chosen.length
      ? chosen.map((o) => plainText(o.text)).join("、")
      : plainText(item.placeholder) || "選択してください";
    summary.classList.toggle("is-empty", !chosen.length);
  };
  const list = el("div", { class: "bk-multi-list" });
  let i = 0;
  const groups = item.option_groups || [{ options }];
  for (const group of groups) {
    if (group.label) list.append(el("div", { class: "bk-multi-group" }, plainText(group.label)));
    for (const option of group.options || []) list.append(choiceLabel(inputs[i++], option));
  }
  const node = el("div", { class: "bk-multi", testid: "slack-multi-select" }, summary, list);
  node.addEventListener("change", () => {
    showSummary();
    fire({ selected_options: read() });
  });
  showSummary();
  return stateful(
    node,
    item.type,
    () => ({ selected_options: read() }),
    (state) => {
      const chosen = new Set((state.selected_options || []).map(optionValue));
      for (const input of inputs) input.checked = chosen.has(input.value);
      showSummary();
    },
  );
}

function textInput(item, fire) {
  const type = { email_text_input: "email", url_text_input: "url" }[item.type] || "text";
  const multiline = item.multiline || item.type === "rich_text_input";
  const input = multiline
    ? el("textarea", { class: "bk-control", rows: 4 })
    : el("input", { type, class: "bk-control" });
  input.value =
    item.type === "rich_text_input" ? richPlain(item.initial_value) : (item.initial_value ?? "");
  if (item.placeholder) input.placeholder = plainText(item.placeholder);
  if (item.max_length) input.maxLength = item.max_length;
  if (item.min_length) input.minLength = item.min_length;
  if (item.focus_on_load) input.autofocus = true;
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !multiline && !event.isComposing)
      fire({ value: input.value || null });
  });
  const read = () =>
    item.type === "rich_text_input"
      ? { rich_text_value: richValue(input.value) }
      : { value: input.value === "" ? null : input.value };
  return stateful(input, item.type, read, (state) => {
    input.value =
      item.type === "rich_text_input" ? richPlain(state.rich_text_value) : (state.value ?? "");
  });
}

function richValue(text) {
  return {
    type: "rich_text",
    elements: [{ type: "rich_text_section", elements: text ? [{ type: "text", text }] : [] }],
  };
}

function richPlain(value) {
  if (!value || typeof value !== "object") return value ?? "";
  const walk = (node) =>
    node.text ?? (Array.isArray(node.elements) ? node.elements.map(walk).join("") : "");
  return walk(value);
}

/** users_select and friends: a text box for an id, with the personas as suggestions. */
function idBox(item, fire, ctx, key, initial) {
  const listId = `users-${Math.random().toString(36).slice(2)}`;
  const input = el("input", {
    type: "text",
    class: "bk-control",
    placeholder: plainText(item.placeholder) || "U…",
    value: initial || "",
    list: null,
  });
  input.setAttribute("list", listId);
  const datalist = el(
    "datalist",
    { id: listId },
    (ctx.users || []).map((user) => el("option", { value: user.user_id }, user.name)),
  );
  const read = () => input.value.trim() || null;
  input.addEventListener("change", () => fire({ [key]: read() }));
  return stateful(
    el("span", { class: "bk-idbox" }, input, datalist),
    item.type,
    () => ({ [key]: read() }),
    (state) => (input.value = state[key] || ""),
  );
}

function idListBox(item, fire, ctx, key, initial) {
  const input = el("input", {
    type: "text",
    class: "bk-control",
    placeholder: "U…, U… (カンマ区切り / comma separated)",
    value: (initial || []).join(", "),
  });
  const read = () =>
    input.value
      .split(/[,\s、]+/)
      .map((part) => part.trim())
      .filter(Boolean);
  input.addEventListener("change", () => fire({ [key]: read() }));
  return stateful(
    input,
    item.type,
    () => ({ [key]: read() }),
    (state) => (input.value = (state[key] || []).join(", ")),
  );
}

// Slack's datetimepicker speaks Unix seconds; the emulator shows Japan wall-clock time.
function jstLocal(seconds) {
  const shifted = new Date((Number(seconds) + 9 * 3600) * 1000);
  return shifted.toISOString().slice(0, 16);
}

function jstUnix(local) {
  return Math.floor(Date.parse(`${local}:00+09:00`) / 1000);
}

// -- a view's state -------------------------------------------------------------------------

/**
 * view.state.values for everything stateful under `root`: {block_id: {action_id: state}}.
 * Every input block is there, empty ones with value/selected_option null, as Slack sends it.
 */
export function collectState(root) {
  const values = {};
  for (const node of root.querySelectorAll("[data-bk-stateful]")) {
    const control = controls.get(node);
    const block = node.closest("[data-block-id]");
    if (!control || !block) continue;
    const blockId = block.dataset.blockId;
    values[blockId] ??= {};
    values[blockId][node.dataset.actionId] = control.get();
  }
  return values;
}

/** Put values back after a redraw (same block id, action id and element type), as Slack
 * keeps what a person typed when a view is updated. */
export function restoreState(root, values) {
  for (const node of root.querySelectorAll("[data-bk-stateful]")) {
    const control = controls.get(node);
    const block = node.closest("[data-block-id]");
    const state = values?.[block?.dataset.blockId]?.[node.dataset.actionId];
    if (control && state && state.type === control.type) control.set(state);
  }
}

/** Show the service's field errors ({block_id: message}) under their inputs; returns the
 * ids that had no such block (shown at the top of the modal instead). */
export function showErrors(root, errors) {
  for (const node of root.querySelectorAll(".bk-error")) {
    node.hidden = true;
    node.textContent = "";
    node.closest(".bk-input")?.classList.remove("has-error");
  }
  const unplaced = [];
  for (const [blockId, message] of Object.entries(errors || {})) {
    const block = root.querySelector(`[data-block-id="${CSS.escape(blockId)}"]`);
    const slot = block?.querySelector(".bk-error");
    if (!slot) {
      unplaced.push(`${blockId}: ${message}`);
      continue;
    }
    slot.textContent = message;
    slot.hidden = false;
    block.classList.add("has-error");
  }
  return unplaced;
}

/** What Slack's client refuses before sending: an empty required input. */
export function missingRequired(root, values) {
  const errors = {};
  for (const block of root.querySelectorAll(".bk-input.is-required")) {
    const blockId = block.dataset.blockId;
    const states = Object.values(values[blockId] || {});
    const filled = states.some((state) =>
      Object.entries(state).some(
        ([key, value]) =>
          key !== "type" && value !== null && !(Array.isArray(value) && !value.length),
      ),
    );
    if (!filled) errors[blockId] = "この項目は必須です / This field is required";
  }
  return errors;
}
