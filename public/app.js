// Calls the API with fetch and shows the answers; every failure is shown.
"use strict";

const $ = (id) => document.getElementById(id);

async function api(path, options) {
  let res;
  try {
    res = await fetch(path, options);
  } catch (e) {
    throw new Error("The API could not be reached.");
  }
  if (res.status === 204) return null;
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const msg = body && typeof body.error === "string" ? body.error : `HTTP ${res.status}`;
    throw new Error(`${msg} (HTTP ${res.status})`);
  }
  if (body === null) throw new Error(`Unexpected answer (HTTP ${res.status})`);
  return body;
}

function showError(id, err) {
  const el = $(id);
  el.textContent = err ? err.message : "";
  el.hidden = !err;
}

async function loadGeo() {
  try {
    const geo = await api("/api/geo");
    const where = [geo.city, geo.country].filter(Boolean).join(", ");
    $("geo").textContent = `${geo.flag ? geo.flag + " " : ""}${where}`;
    $("geo").dataset.country = geo.country;
    showError("geo-error", null);
  } catch (err) {
    $("geo").textContent = "";
    showError("geo-error", err);
  }
}

let nextCursor = null;

function userRow(u) {
  const tr = document.createElement("tr");
  for (const text of [u.name, u.email, new Date(u.createdAt).toLocaleDateString()]) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  tr.dataset.id = u.id;
  return tr;
}

async function loadUsers() {
  const more = $("more");
  more.disabled = true;
  const url = nextCursor ? `/api/users?cursor=${encodeURIComponent(nextCursor)}` : "/api/users";
  try {
    const page = await api(url);
    $("users").append(...page.users.map(userRow));
    nextCursor = page.nextCursor;
    more.hidden = !nextCursor;
    $("users-status").textContent = `${$("users").children.length} users shown${nextCursor ? "" : " (all)"}`;
    showError("users-error", null);
  } catch (err) {
    showError("users-error", err);
  } finally {
    more.disabled = false;
  }
}

async function addUser(ev) {
  ev.preventDefault();
  const form = ev.target;
  const data = new FormData(form);
  const token = data.get("token");
  sessionStorage.setItem("apiToken", token);
  try {
    const user = await api("/api/users", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ name: data.get("name"), email: data.get("email") }),
    });
    $("add-result").textContent = `Added ${user.name} (${user.id}).`;
    $("add-result").className = "";
    form.reset();
    form.elements.token.value = token;
    if (!nextCursor) $("users").append(userRow(user));
  } catch (err) {
    $("add-result").textContent = err.message;
    $("add-result").className = "error";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("more").addEventListener("click", loadUsers);
  $("add").addEventListener("submit", addUser);
  const saved = sessionStorage.getItem("apiToken");
  if (saved) $("add").elements.token.value = saved;
  loadGeo();
  loadUsers();
});
