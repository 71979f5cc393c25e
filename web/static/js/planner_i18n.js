// Planner page strings: Vietnamese by default, English switchable (same choice as i18n.js).

import { lang } from "./i18n.js";

const STRINGS = {
  vi: {
    title: "Lập kế hoạch trạm cấp cứu 115",
    run_scenario: "Chạy kịch bản",
    scenario: "Kịch bản",
    days: "Số ngày mô phỏng",
    replications: "Số lần lặp",
    layer_hour: "Giờ của lớp phủ (giờ Hà Nội)",
    run: "Chạy",
    cancel: "Huỷ",
    jobs: "Các lần chạy",
    compare: "So sánh các lần đã chọn",
    coverage: "Vùng phủ",
    station_set: "Bộ trạm",
    hour: "Giờ (giờ Hà Nội, ngày thường)",
    show_coverage: "Xem vùng phủ",
    kpis: "Chỉ số theo kịch bản",
    report: "Báo cáo so sánh",
    open_report: "mở trong thẻ mới",
    connected: "Đã kết nối",
    disconnected: "Mất kết nối",
    not_runnable: "không chạy được trên bản đồ này",
    calls_per_day: "cuộc gọi/ngày",
    within_8: "trong 8 phút",
    within_15: "trong 15 phút",
    stations: "trạm",
    people_within: "Dân số trong tầm",
    state: {
      queued: "đang chờ", running: "đang chạy", done: "xong", failed: "lỗi", cancelled: "đã huỷ",
    },
    kpi: {
      job: "Lần chạy",
      scenario: "Kịch bản",
      simulated_days: "Ngày mô phỏng",
      calls: "Cuộc gọi",
      mean_min: "Phản hồi TB (phút)",
      median_min: "Phản hồi trung vị (phút)",
      p90_min: "Phản hồi P90 (phút)",
      within_8_min: "Tới trong 8 phút",
      within_15_min: "Tới trong 15 phút",
      no_unit_free_share: "Không còn xe rảnh",
      mean_wait_s: "Chờ xe TB (giây)",
      utilisation: "Hiệu suất sử dụng xe",
      coverage_8: "Dân số trong 8 phút",
      coverage_15: "Dân số trong 15 phút",
    },
  },
  en: {
    title: "Hanoi 115 station planning",
    run_scenario: "Run a scenario",
    scenario: "Scenario",
    days: "Simulated days",
    replications: "Replications",
    layer_hour: "Hour of the coverage layers (Hanoi time)",
    run: "Run",
    cancel: "Cancel",
    jobs: "Runs",
    compare: "Compare selected runs",
    coverage: "Coverage",
    station_set: "Station set",
    hour: "Hour (Hanoi time, weekday)",
    show_coverage: "Show coverage",
    kpis: "KPIs per scenario",
    report: "Comparison report",
    open_report: "open in a new tab",
    connected: "Connected",
    disconnected: "Disconnected",
    not_runnable: "cannot run on this road graph",
    calls_per_day: "calls/day",
    within_8: "within 8 min",
    within_15: "within 15 min",
    stations: "stations",
    people_within: "People within reach",
    state: {
      queued: "queued", running: "running", done: "done", failed: "failed", cancelled: "cancelled",
    },
    kpi: {
      job: "Run",
      scenario: "Scenario",
      simulated_days: "Simulated days",
      calls: "Calls",
      mean_min: "Mean response (min)",
      median_min: "Median response (min)",
      p90_min: "P90 response (min)",
      within_8_min: "Reached within 8 min",
      within_15_min: "Reached within 15 min",
      no_unit_free_share: "No unit free",
      mean_wait_s: "Mean wait for a unit (s)",
      utilisation: "Unit utilisation",
      coverage_8: "People within 8 min",
      coverage_15: "People within 15 min",
    },
  },
};

export function pt(key) {
  let value = STRINGS[lang()] || STRINGS.vi;
  for (const part of key.split(".")) value = value ? value[part] : undefined;
  return value === undefined ? key : value;
}

// Fill every element carrying data-pt (the planner's strings).
export function applyPlannerStrings(root = document) {
  for (const el of root.querySelectorAll("[data-pt]")) el.textContent = pt(el.dataset.pt);
  document.documentElement.lang = lang();
}
