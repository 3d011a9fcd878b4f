// Supervisors' wallboard: polls GET /api/v1/live every 2 s and redraws two tables.
'use strict';

const TOKEN_KEY = 'hotline.token';  // shared with the flow editor's sign-in
const POLL_MS = 2000;
const $ = (selector) => document.querySelector(selector);

const seconds = (value) => (value == null ? '–' : `${Math.round(value)} s`);
const percent = (value) => (value == null ? '–' : `${Math.round(value * 100)} %`);

function cell(text, warn = false) {
  const td = document.createElement('td');
  td.textContent = text;
  if (warn) td.className = 'warn';
  return td;
}

function row(cells) {
  const tr = document.createElement('tr');
  cells.forEach((td) => tr.appendChild(td));
  return tr;
}

function draw(live) {
  const queues = Object.entries(live.queues).sort(([a], [b]) => a.localeCompare(b));
  $('#queues').replaceChildren(...queues.map(([name, q]) => row([
    cell(name), cell(String(q.waiting)), cell(seconds(q.longest_wait), q.longest_wait > q.sl_seconds),
    cell(percent(q.service_level), q.service_level != null && q.service_level < 0.8),
    cell(seconds(q.asa)), cell(seconds(q.aht)), cell(percent(q.abandonment)), cell(String(q.answered)),
  ])));
  const agents = Object.entries(live.agents).sort(([a], [b]) => a.localeCompare(b));
  $('#agents').replaceChildren(...agents.map(([name, a]) => row([
    cell(name), cell(a.state.replace('_', ' ')), cell(a.reason || ''),
    cell(seconds(a.time_in_state)), cell(percent(a.occupancy)),
  ])));
  $('#updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

async function poll() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return showSignIn();
  try {
    const response = await fetch('/api/v1/live', { headers: { Authorization: `Bearer ${token}` } });
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      return showSignIn(response.status === 403 ? 'Supervisors only.' : '');
    }
    if (response.ok) draw(await response.json());
    else $('#updated').textContent = `Live figures unavailable (${response.status})`;
  } catch (error) {
    $('#updated').textContent = 'Connection lost; retrying…';
  }
  setTimeout(poll, POLL_MS);
}

function showSignIn(message = '') {
  $('#board').hidden = true;
  $('#signin').hidden = false;
  $('#signin-error').textContent = message;
}

$('#signin').addEventListener('submit', async (event) => {
  event.preventDefault();
  const response = await fetch('/api/v1/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: $('#username').value, password: $('#password').value }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) return showSignIn(body.error || 'Sign-in failed.');
  sessionStorage.setItem(TOKEN_KEY, body.token);
  $('#signin').hidden = true;
  $('#board').hidden = false;
  poll();
});

if (sessionStorage.getItem(TOKEN_KEY)) { $('#board').hidden = false; poll(); } else showSignIn();
