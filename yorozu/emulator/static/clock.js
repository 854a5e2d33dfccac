// The service's clock (Japan time) and the buttons that move it forward.
//
// Moving the clock runs the scheduler's jobs that fell due in between; the advance answer
// says which ran and what they did, kept in a small log so a person can see *why* a
// reminder just arrived on the phone.

import { api } from "./api.js";
import { bi, el, jst, toast } from "./dom.js";

const STEPS = [
  { id: "3600", seconds: 3600, ja: "+1時間", en: "+1 hour" },
  { id: "86400", seconds: 86400, ja: "+1日", en: "+1 day" },
  { id: "next9", ja: "翌朝9時", en: "next 09:00" },
  { id: "604800", seconds: 7 * 86400, ja: "+1週間", en: "+1 week" },
  { id: "2592000", seconds: 30 * 86400, ja: "+1か月", en: "+30 days" },
  { id: "7776000", seconds: 90 * 86400, ja: "+3か月", en: "+90 days" },
];
const MAX_LOG = 30;

export class ClockBar {
  constructor(poke) {
    this.poke = poke;
    this.clock = null;
    this.log = [];
    this.$ = (id) => document.getElementById(id);
    this.$("clock-buttons").replaceChildren(
      ...STEPS.map((step) =>
        el(
          "button",
          {
            type: "button",
            class: "clock-button",
            testid: `clock-advance-${step.id}`,
            onclick: () => this.advance(step),
          },
          bi(step.ja, step.en),
        ),
      ),
    );
    document.addEventListener("click", (event) => {
      // The job log floats over the panes: a click anywhere else folds it away.
      const jobs = this.$("clock-jobs");
      if (jobs.open && !jobs.contains(event.target)) jobs.open = false;
    });
  }

  /** The service clock's current instant (ISO), falling back to the browser's. */
  now() {
    return this.clock?.now || new Date().toISOString();
  }

  async refresh() {
    this.update(await api.clock());
  }

  update(clock) {
    if (!clock) return;
    this.clock = clock;
    const node = this.$("clock-now");
    node.textContent = jst.full(clock.now_jst || clock.now);
    node.dataset.iso = clock.now_jst || clock.now;
    const offset = Number(clock.offset_seconds || 0);
    this.$("clock-offset").textContent = offset ? `+${describe(offset)}` : "";
  }

  async advance(step) {
    const body = step.seconds
      ? { seconds: step.seconds }
      : { to_jst: nextNine(this.clock?.now_jst) };
    const buttons = this.$("clock-buttons").querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    this.$("clock-busy").hidden = false;
    const from = this.clock?.now_jst;
    try {
      const answer = await api.advance(body);
      this.update(answer.clock);
      this.record(from, answer.clock?.now_jst, answer.jobs || []);
    } catch (error) {
      toast(`時計を進められませんでした / clock not moved: ${error.message}`);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
      this.$("clock-busy").hidden = true;
      this.poke();
    }
  }

  record(from, to, jobs) {
    this.log.unshift({ from, to, jobs });
    this.log.length = Math.min(this.log.length, MAX_LOG);
    const did = jobs.filter((job) => job.count > 0);
    this.$("clock-jobs-last").textContent = jobs.length
      ? `${jobs.length}件（処理あり ${did.length}）`
      : "0件";
    this.$("clock-jobs-last").title = `${jobs.length} jobs ran, ${did.length} did something`;
    this.$("clock-jobs-list").replaceChildren(
      ...this.log.map((entry) =>
        el(
          "li",
          {},
          el("div", { class: "job-when" }, `${jst.full(entry.from)} → ${jst.full(entry.to)}`),
          entry.jobs.length
            ? el(
                "ul",
                { class: "job-list" },
                entry.jobs.map((job) =>
                  el(
                    "li",
                    { class: job.count > 0 ? "job-did" : "job-idle" },
                    el("code", {}, job.id),
                    ` ×${job.count ?? 0}`,
                  ),
                ),
              )
            : el("div", { class: "muted" }, "（実行されたジョブはありません / no jobs ran）"),
        ),
      ),
    );
  }
}

/**
 * The next 09:00 in Japan strictly after `nowJst` ("2026-06-01T10:00:00+09:00"), as the
 * wall-clock "YYYY-MM-DDT09:00" the API takes.
 */
export function nextNine(nowJst) {
  const text = nowJst || jstWallClock(new Date());
  const [date, time = "00:00"] = text.slice(0, 19).split("T");
  const [y, m, d] = date.split("-").map(Number);
  const day = new Date(Date.UTC(y, m - 1, d));
  if (time.slice(0, 8) >= "09:00:00") day.setUTCDate(day.getUTCDate() + 1);
  return `${day.toISOString().slice(0, 10)}T09:00`;
}

function jstWallClock(date) {
  return new Date(date.getTime() + 9 * 3600 * 1000).toISOString().slice(0, 19);
}

function describe(seconds) {
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return (
    [
      days ? `${days}日` : "",
      hours ? `${hours}時間` : "",
      !days && minutes ? `${minutes}分` : "",
    ].join("") || `${seconds}秒`
  );
}
