// UI strings: Vietnamese by default, English switchable (stored in localStorage).

const STRINGS = {
  vi: {
    title_dispatcher: "Điều phối cấp cứu 115 Hà Nội",
    title_crew: "Kíp xe cấp cứu 115",
    new_call: "Cuộc gọi mới",
    address: "Địa chỉ",
    address_hint: "Gõ tên phố, ví dụ: phan chu trinh",
    caller_phone: "SĐT người gọi",
    priority: "Mức ưu tiên",
    complaint: "Tình trạng",
    notes: "Ghi chú",
    pin_hint: "Nhấp bản đồ để đặt ghim (ghim là vị trí chính thức; kéo để sửa)",
    caller_location: "Vị trí máy người gọi (chỉ hiển thị)",
    use_device_location: "Dùng vị trí máy",
    create_call: "Tạo cuộc gọi",
    recommendations: "Đề xuất xe",
    assign: "Điều xe",
    unreachable: "không tới được",
    unit_type: { ambulance: "Xe cứu thương", motorbike: "Xe máy" },
    diverts: "chuyển hướng từ",
    ack_mute: "Bấm để tắt chuông (kíp xe chưa xác nhận)",
    queue: "Hàng chờ",
    units: "Xe",
    calls_today: "Cuộc gọi hôm nay",
    mean_response: "Phản hồi TB",
    p90_response: "Phản hồi P90",
    connected: "Đã kết nối",
    disconnected: "Mất kết nối",
    device_lost: "mất tín hiệu",
    ack_waiting: "chờ xác nhận",
    no_calls: "Không có cuộc gọi chờ",
    sign_in: "Đăng nhập xe",
    username: "Tên đăng nhập",
    password: "Mật khẩu",
    signed_out: "Phiên đăng nhập đã hết: đăng nhập lại",
    unit: "Xe",
    current_job: "Nhiệm vụ hiện tại",
    no_job: "Chưa có nhiệm vụ",
    scene: "Hiện trường",
    eta: "Dự kiến tới",
    turns: "Chỉ đường",
    hospital: "Bệnh viện",
    offline_queue: "Thao tác chờ gửi",
    cancel: "Huỷ",
    cancel_reason: "Lý do huỷ",
    open_calls: "Cuộc gọi đang mở",
    status: {
      off_duty: "Nghỉ", available_at_station: "Sẵn sàng tại trạm", available_on_road: "Sẵn sàng trên đường",
      dispatched: "Đã điều", en_route: "Đang đến", on_scene: "Tại hiện trường",
      transporting: "Đang chở BN", at_hospital: "Tại bệnh viện", returning: "Đang về",
      out_of_service: "Ngừng hoạt động",
    },
    call_status: {
      received: "Mới nhận", triaged: "Đã phân loại", queued: "Đang chờ", assigned: "Đã điều xe",
      on_scene: "Tại hiện trường", transporting: "Đang chở", at_hospital: "Tại BV", closed: "Đã đóng",
      cancelled: "Đã huỷ",
    },
    unnamed_road: "đường không tên",
    maneuvers: {
      depart: "Xuất phát theo", straight: "Đi tiếp vào", "slight left": "Chếch trái vào",
      "slight right": "Chếch phải vào", left: "Rẽ trái vào", right: "Rẽ phải vào",
      "u-turn": "Quay đầu vào", offroad: "Đi bộ (cáng)", arrive: "Đến nơi",
    },
    actions: {
      acknowledge: "Xác nhận", en_route: "Xuất phát", on_scene: "Đến nơi",
      transporting: "Chở bệnh nhân", at_hospital: "Đến bệnh viện", available: "Sẵn sàng",
    },
  },
  en: {
    title_dispatcher: "Hanoi 115 dispatch",
    title_crew: "115 ambulance crew",
    new_call: "New call",
    address: "Address",
    address_hint: "Type a street, e.g. phan chu trinh",
    caller_phone: "Caller phone",
    priority: "Priority",
    complaint: "Complaint",
    notes: "Notes",
    pin_hint: "Click the map to place the pin (the pin is authoritative; drag to correct)",
    caller_location: "Caller device location (shown only)",
    use_device_location: "Use device location",
    create_call: "Create call",
    recommendations: "Recommended units",
    assign: "Assign",
    unreachable: "unreachable",
    unit_type: { ambulance: "Ambulance", motorbike: "Motorbike" },
    diverts: "diverted from",
    ack_mute: "Click to silence (the crew has not acknowledged)",
    queue: "Queue",
    units: "Units",
    calls_today: "Calls today",
    mean_response: "Mean response",
    p90_response: "P90 response",
    connected: "Connected",
    disconnected: "Disconnected",
    device_lost: "device lost",
    ack_waiting: "awaiting ack",
    no_calls: "No waiting calls",
    sign_in: "Sign in as unit",
    username: "Username",
    password: "Password",
    signed_out: "Signed out: sign in again",
    unit: "Unit",
    current_job: "Current job",
    no_job: "No job",
    scene: "Scene",
    eta: "ETA",
    turns: "Directions",
    hospital: "Hospital",
    offline_queue: "Actions waiting to send",
    cancel: "Cancel",
    cancel_reason: "Cancel reason",
    open_calls: "Open calls",
    status: {
      off_duty: "Off duty", available_at_station: "At station", available_on_road: "Available (road)",
      dispatched: "Dispatched", en_route: "En route", on_scene: "On scene",
      transporting: "Transporting", at_hospital: "At hospital", returning: "Returning",
      out_of_service: "Out of service",
    },
    call_status: {
      received: "Received", triaged: "Triaged", queued: "Queued", assigned: "Assigned",
      on_scene: "On scene", transporting: "Transporting", at_hospital: "At hospital", closed: "Closed",
      cancelled: "Cancelled",
    },
    unnamed_road: "unnamed road",
    maneuvers: {
      depart: "Depart on", straight: "Continue onto", "slight left": "Keep slightly left onto",
      "slight right": "Keep slightly right onto", left: "Turn left onto", right: "Turn right onto",
      "u-turn": "Make a U-turn onto", offroad: "On foot (stretcher)", arrive: "Arrive",
    },
    actions: {
      acknowledge: "Acknowledge", en_route: "En route", on_scene: "On scene",
      transporting: "Transporting", at_hospital: "At hospital", available: "Available",
    },
  },
};

export function lang() {
  return localStorage.getItem("h115.lang") || "vi";
}

export function setLang(code) {
  localStorage.setItem("h115.lang", code);
  applyStatic();
}

export function t(key) {
  const parts = key.split(".");
  let value = STRINGS[lang()] || STRINGS.vi;
  for (const p of parts) value = value ? value[p] : undefined;
  return value === undefined ? key : value;
}

// Fill every element carrying data-i18n (text) or data-i18n-placeholder.
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  document.documentElement.lang = lang();
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}
