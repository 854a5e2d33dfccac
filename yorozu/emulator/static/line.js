// LINE message objects (as the Messaging API receives them in reply/push bodies) as DOM.
//
// Only drawing lives here: every tap goes to `onAction(action)`, which the chat pane turns
// into a webhook event, so a button in a flex bubble, a template, a quick reply or the rich
// menu all behave the same way.

import { el, linkified } from "./dom.js";

/** One bot message as the content of a chat bubble. */
export function renderMessage(message, onAction) {
  const render = RENDERERS[message?.type];
  if (render) {
    try {
      return render(message, onAction);
    } catch (error) {
      // A malformed message must not take the chat down with it: show what LINE would
      // show on a device that cannot draw it.
      console.error("could not render LINE message", message, error);
    }
  }
  return fallback(message);
}

/** Whether the message is drawn as a card (no speech-bubble background). */
export function isCard(message) {
  return ["flex", "template", "image", "sticker", "video", "imagemap"].includes(message?.type);
}

const RENDERERS = {
  text: (m) => el("div", { class: "line-text" }, linkified(m.text)),
  flex: (m, onAction) => renderFlexContainer(m.contents, onAction),
  template: (m, onAction) => renderTemplate(m.template, onAction),
  image: (m) =>
    el("img", {
      class: "line-image",
      src: m.previewImageUrl || m.originalContentUrl,
      alt: "画像",
      loading: "lazy",
    }),
  sticker: (m) =>
    el(
      "div",
      { class: "line-sticker", title: `package ${m.packageId} / sticker ${m.stickerId}` },
      el("span", { class: "line-sticker-face" }, "🙂"),
      el("small", {}, `スタンプ ${m.packageId}/${m.stickerId}`),
    ),
  video: (m) => placeholder("🎬", "動画", m.originalContentUrl),
  audio: (m) => placeholder("🎵", "音声", m.originalContentUrl),
  location: (m) =>
    placeholder("📍", m.title || "位置情報", `${m.address ?? ""} (${m.latitude}, ${m.longitude})`),
  imagemap: (m) => placeholder("🗺", "イメージマップ", m.altText),
};

function placeholder(icon, title, detail) {
  return el(
    "div",
    { class: "line-placeholder" },
    el("span", { class: "line-placeholder-icon" }, icon),
    el("div", {}, el("b", {}, title), detail ? el("div", { class: "muted" }, detail) : null),
  );
}

function fallback(message) {
  const alt = message?.altText || message?.text;
  return el(
    "div",
    { class: "line-text line-unknown" },
    alt ? String(alt) : `[${message?.type ?? "?"}]`,
    el("small", { class: "muted" }, ` (${message?.type ?? "unknown"})`),
  );
}

// -- quick replies --------------------------------------------------------------------------

/** The chips above the input for the last message's quickReply.items. */
export function renderQuickReply(items, onAction) {
  return items.map((item) => {
    const action = item.action || {};
    const disabled = ["location", "camera", "cameraRoll"].includes(action.type);
    return el(
      "button",
      {
        type: "button",
        class: `line-chip${disabled ? " is-disabled" : ""}`,
        testid: "line-quick-reply",
        disabled,
        title: disabled
          ? "エミュレーターでは使えません (not available in the emulator)"
          : action.type === "datetimepicker"
            ? "日時を選ぶ / opens a date picker"
            : null,
        dataset: { actionType: action.type || "" },
        onclick: () => onAction(action),
      },
      item.imageUrl ? el("img", { class: "line-chip-icon", src: item.imageUrl, alt: "" }) : null,
      actionLabel(action),
    );
  });
}

export function actionLabel(action) {
  if (action?.label) return action.label;
  const defaults = {
    camera: "カメラ",
    cameraRoll: "カメラロール",
    location: "位置情報",
    datetimepicker: "日時を選択",
    uri: "開く",
  };
  return defaults[action?.type] || action?.text || action?.data || "?";
}

// -- flex -----------------------------------------------------------------------------------

const SIZES = {
  xxs: "10px",
  xs: "11px",
  sm: "12.5px",
  md: "14px",
  lg: "16.5px",
  xl: "19px",
  xxl: "24px",
  "3xl": "29px",
  "4xl": "38px",
  "5xl": "56px",
};
const SPACES = { none: "0", xs: "2px", sm: "4px", md: "8px", lg: "12px", xl: "16px", xxl: "20px" };
const IMAGE_SIZES = {
  xxs: "40px",
  xs: "60px",
  sm: "80px",
  md: "100px",
  lg: "120px",
  xl: "140px",
  xxl: "160px",
  "3xl": "180px",
  "4xl": "200px",
  "5xl": "220px",
  full: "100%",
};

const space = (value) => (value ? (SPACES[value] ?? value) : null);
const fontSize = (value) => (value ? (SIZES[value] ?? value) : null);

function renderFlexContainer(container, onAction) {
  if (container?.type === "carousel") {
    return el(
      "div",
      { class: "flex-carousel" },
      (container.contents || []).map((bubble) => renderBubble(bubble, onAction)),
    );
  }
  return renderBubble(container, onAction);
}

function renderBubble(bubble, onAction) {
  const node = el("div", {
    class: `flex-bubble flex-size-${bubble?.size || "mega"}`,
    dir: bubble?.direction === "rtl" ? "rtl" : null,
  });
  for (const part of ["header", "hero", "body", "footer"]) {
    const component = bubble?.[part];
    if (!component) continue;
    const style = bubble.styles?.[part] || {};
    const section = el(
      "div",
      { class: `flex-${part}` },
      renderComponent(component, onAction, "vertical"),
    );
    if (style.backgroundColor) section.style.backgroundColor = style.backgroundColor;
    if (style.separator) section.classList.add("flex-separated");
    node.append(section);
  }
  if (bubble?.action) makeTappable(node, bubble.action, onAction);
  return node;
}

/** One flex component; `parent` is the enclosing box's layout (it decides flex defaults). */
function renderComponent(component, onAction, parent) {
  const render = COMPONENTS[component?.type];
  const node = render
    ? render(component, onAction)
    : el("div", { class: "muted" }, `[${component?.type}]`);
  applyCommon(node, component, parent);
  return node;
}

const COMPONENTS = {
  box: renderBox,
  text: renderText,
  span: renderSpan,
  separator: (c) => {
    const node = el("hr", { class: "flex-separator" });
    if (c.color) node.style.borderColor = c.color;
    return node;
  },
  spacer: (c) => el("div", { class: "flex-spacer", style: { height: space(c.size || "md") } }),
  filler: () => el("div", { class: "flex-filler" }),
  button: renderButton,
  image: renderImage,
  icon: (c) =>
    el("img", {
      class: "flex-icon",
      src: c.url,
      alt: "",
      style: { height: fontSize(c.size || "md"), aspectRatio: ratio(c.aspectRatio || "1:1") },
    }),
  video: (c, onAction) =>
    c.altContent ? renderComponent(c.altContent, onAction, "vertical") : placeholder("🎬", "動画"),
};

function renderBox(box, onAction) {
  const layout = box.layout || "vertical";
  const node = el("div", { class: `flex-box flex-${layout}` });
  const gap = space(box.spacing);
  (box.contents || []).forEach((child, index) => {
    const rendered = renderComponent(child, onAction, layout);
    // LINE's spacing goes between children unless a child sets its own margin.
    if (index > 0 && gap && !child.margin && child.type !== "separator") {
      rendered.style[layout === "vertical" ? "marginTop" : "marginLeft"] = gap;
    }
    node.append(rendered);
  });
  const style = node.style;
  if (box.backgroundColor) style.backgroundColor = box.backgroundColor;
  if (box.borderColor) style.borderColor = box.borderColor;
  if (box.borderWidth) style.borderWidth = borderWidth(box.borderWidth);
  if (box.borderColor || box.borderWidth) style.borderStyle = "solid";
  if (box.cornerRadius) style.borderRadius = space(box.cornerRadius) ?? box.cornerRadius;
  if (box.width) style.width = box.width;
  if (box.height) style.height = box.height;
  if (box.justifyContent) style.justifyContent = box.justifyContent;
  if (box.alignItems) style.alignItems = box.alignItems;
  for (const [prop, css] of [
    ["paddingAll", "padding"],
    ["paddingTop", "paddingTop"],
    ["paddingBottom", "paddingBottom"],
    ["paddingStart", "paddingInlineStart"],
    ["paddingEnd", "paddingInlineEnd"],
  ]) {
    if (box[prop]) style[css] = space(box[prop]);
  }
  if (box.action) makeTappable(node, box.action, onAction);
  return node;
}

function borderWidth(value) {
  return (
    { none: "0", light: "0.5px", normal: "1px", medium: "2px", "semi-bold": "3px", bold: "4px" }[
      value
    ] ?? value
  );
}

function renderText(text, onAction) {
  const node = el("div", { class: "flex-text" });
  if (Array.isArray(text.contents) && text.contents.length) {
    for (const span of text.contents) node.append(renderSpan(span));
  } else {
    node.append(linkified(text.text ?? ""));
  }
  const style = node.style;
  style.fontSize = fontSize(text.size || "md");
  if (text.weight === "bold") style.fontWeight = "700";
  if (text.color) style.color = text.color;
  if (text.align) style.textAlign = { start: "start", end: "end", center: "center" }[text.align];
  if (text.style === "italic") style.fontStyle = "italic";
  if (text.decoration && text.decoration !== "none") style.textDecoration = text.decoration;
  if (text.wrap) {
    node.classList.add("is-wrapped");
    if (text.maxLines) {
      node.classList.add("is-clamped");
      style.webkitLineClamp = String(text.maxLines);
    }
  }
  if (text.lineSpacing) style.lineHeight = `calc(1.3em + ${text.lineSpacing})`;
  if (text.action) makeTappable(node, text.action, onAction);
  return node;
}

function renderSpan(span) {
  const node = el("span", {}, span.text ?? "");
  if (span.size) node.style.fontSize = fontSize(span.size);
  if (span.weight === "bold") node.style.fontWeight = "700";
  if (span.color) node.style.color = span.color;
  if (span.style === "italic") node.style.fontStyle = "italic";
  if (span.decoration && span.decoration !== "none") node.style.textDecoration = span.decoration;
  return node;
}

function renderButton(button, onAction) {
  const style = button.style || "link";
  const node = el(
    "button",
    {
      type: "button",
      class: `flex-button flex-button-${style} flex-button-${button.height || "md"}`,
      testid: "line-flex-button",
      dataset: { actionType: button.action?.type || "" },
      onclick: (event) => {
        event.stopPropagation();
        onAction(button.action || {});
      },
    },
    actionLabel(button.action),
  );
  if (button.color) {
    if (style === "link") node.style.color = button.color;
    else node.style.backgroundColor = button.color;
  }
  return node;
}

function renderImage(image, onAction) {
  const size = image.size || "md";
  const node = el("div", { class: `flex-image flex-image-${image.aspectMode || "fit"}` });
  node.style.width = IMAGE_SIZES[size] ?? size;
  node.style.aspectRatio = ratio(image.aspectRatio || "1:1");
  if (image.backgroundColor) node.style.backgroundColor = image.backgroundColor;
  node.append(el("img", { src: image.url, alt: "", loading: "lazy" }));
  if (image.action) makeTappable(node, image.action, onAction);
  return node;
}

function ratio(value) {
  const [w, h] = String(value).split(":").map(Number);
  return w > 0 && h > 0 ? `${w} / ${h}` : "1 / 1";
}

/** What every component shares: flex, margin, gravity, position offsets. */
function applyCommon(node, component, parent) {
  const style = node.style;
  const horizontal = parent === "horizontal" || parent === "baseline";
  // LINE: children of a horizontal box default to flex 1, of a vertical box to flex 0.
  const flex = component.flex ?? (horizontal && component.type !== "separator" ? 1 : 0);
  if (component.type !== "filler" || component.flex !== undefined) {
    style.flex = flex > 0 ? `${flex} 1 0` : "0 0 auto";
    if (horizontal && flex > 0) style.minWidth = "0";
  }
  if (component.margin) {
    style[horizontal ? "marginLeft" : "marginTop"] = space(component.margin);
  }
  if (component.gravity && horizontal) {
    style.alignSelf = { top: "flex-start", center: "center", bottom: "flex-end" }[
      component.gravity
    ];
  }
  if (component.position === "absolute") {
    style.position = "absolute";
    for (const side of ["Top", "Bottom", "Start", "End"]) {
      const value = component[`offset${side}`];
      if (value) style[{ Start: "left", End: "right" }[side] || side.toLowerCase()] = space(value);
    }
  }
}

function makeTappable(node, action, onAction) {
  node.classList.add("is-tappable");
  node.addEventListener("click", (event) => {
    event.stopPropagation();
    onAction(action);
  });
}

// -- templates ------------------------------------------------------------------------------

function renderTemplate(template, onAction) {
  switch (template?.type) {
    case "buttons":
      return templateCard(template, onAction);
    case "confirm":
      return el(
        "div",
        { class: "tpl-card tpl-confirm" },
        el("div", { class: "tpl-text" }, linkified(template.text)),
        el(
          "div",
          { class: "tpl-actions tpl-actions-row" },
          (template.actions || []).map((a) => templateButton(a, onAction)),
        ),
      );
    case "carousel":
      return el(
        "div",
        { class: "flex-carousel" },
        (template.columns || []).map((column) =>
          templateCard({ ...template, ...column }, onAction),
        ),
      );
    case "image_carousel":
      return el(
        "div",
        { class: "flex-carousel" },
        (template.columns || []).map((column) =>
          el(
            "div",
            { class: "tpl-card tpl-image-column" },
            el("img", { src: column.imageUrl, alt: "", class: "tpl-thumb" }),
            templateButton(column.action, onAction),
          ),
        ),
      );
    default:
      return fallback({ type: `template/${template?.type}` });
  }
}

function templateCard(t, onAction) {
  const card = el(
    "div",
    { class: "tpl-card" },
    t.thumbnailImageUrl
      ? el("img", {
          class: `tpl-thumb tpl-thumb-${t.imageSize || "cover"}`,
          src: t.thumbnailImageUrl,
          alt: "",
          style: {
            aspectRatio: t.imageAspectRatio === "square" ? "1 / 1" : "1.51 / 1",
            backgroundColor: t.imageBackgroundColor || null,
          },
        })
      : null,
    t.title ? el("div", { class: "tpl-title" }, t.title) : null,
    el("div", { class: "tpl-text" }, linkified(t.text ?? "")),
    el(
      "div",
      { class: "tpl-actions" },
      (t.actions || []).map((a) => templateButton(a, onAction)),
    ),
  );
  if (t.defaultAction) makeTappable(card, t.defaultAction, onAction);
  return card;
}

function templateButton(action, onAction) {
  return el(
    "button",
    {
      type: "button",
      class: "tpl-button",
      testid: "line-template-button",
      dataset: { actionType: action?.type || "" },
      onclick: (event) => {
        event.stopPropagation();
        onAction(action || {});
      },
    },
    actionLabel(action),
  );
}
