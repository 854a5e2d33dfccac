// The emulator page: a business owner's LINE phone on the left, a Slack workspace on the
// right, the service's clock on top. Entry point: loads the config, builds the three parts
// and keeps them fresh by polling (and right after every action).

import { api } from "./api.js";
import { ClockBar } from "./clock.js";
import { toast } from "./dom.js";
import { LinePane } from "./linepane.js";
import { SlackPane } from "./slackpane.js";

const POLL_MS = 700;
const LANG_KEY = "yorozu-emulator:lang";

async function main() {
  setUpLanguageToggle();
  let config;
  try {
    config = await api.config();
  } catch (error) {
    showStatus(false, error.message);
    toast(`エミュレーターの設定を読めません / cannot load the config: ${error.message}`);
    setTimeout(main, 3000); // the service may still be starting
    return;
  }
  const poller = new Poller();
  const clock = new ClockBar(poller.poke);
  const now = () => clock.now();
  const line = new LinePane(config, now, poller.poke);
  const slack = new SlackPane(config, now, poller.poke);
  poller.parts = [clock, line, slack];
  poller.start();
  window.emulator = { config, clock, line, slack, poller }; // for the console and browser tests
}

/**
 * Polls every part; never two rounds at once (a slow answer must not pile requests up), and
 * a poke during a round schedules exactly one more.
 */
class Poller {
  constructor() {
    this.parts = [];
    this.running = false;
    this.again = false;
    this.failures = 0;
  }

  start() {
    this.round();
    this.timer = setInterval(() => this.round(), POLL_MS);
  }

  /** After an action: look now, and once more shortly (the worker answers asynchronously). */
  poke = () => {
    this.round();
    setTimeout(() => this.round(), 300);
  };

  async round() {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      const results = await Promise.allSettled(this.parts.map((part) => part.refresh()));
      const failed = results.find((r) => r.status === "rejected");
      this.failures = failed ? this.failures + 1 : 0;
      if (failed) console.warn("poll failed", failed.reason);
      // One failed poll is noise (a restart, a slow answer); several in a row are news.
      showStatus(this.failures < 3, failed?.reason?.message);
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.round();
      }
    }
  }
}

function showStatus(ok, detail) {
  const node = document.getElementById("status");
  if (!node) return;
  node.classList.toggle("is-down", !ok);
  node.title = ok
    ? "接続中 / connected"
    : `接続できません / cannot reach the service: ${detail ?? ""}`;
}

function setUpLanguageToggle() {
  const button = document.getElementById("lang-toggle");
  const apply = (mode) => {
    document.body.classList.toggle("hide-en", mode === "ja");
    button.textContent = mode === "ja" ? "日本語のみ" : "日本語 + English";
    button.setAttribute("aria-pressed", String(mode === "ja"));
  };
  let mode = localStorage.getItem(LANG_KEY) || "both";
  apply(mode);
  button.onclick = () => {
    mode = mode === "ja" ? "both" : "ja";
    localStorage.setItem(LANG_KEY, mode);
    apply(mode);
  };
}

main();
