// The agent softphone: ACD events in over one WebSocket, commands out, audio over WebRTC.
// Everything on screen is drawn from the server's events; a reload (or a reconnect)
// receives a `state` snapshot first and redraws from it, audio included.
import {AgentAudio} from '/static/webrtc.js';

const $ = id => document.getElementById(id);
const token = sessionStorage.getItem('hotline.token');
if (!token) location.replace('/login');

const BACKOFF_MS = [250, 500, 1000, 2000, 5000];
const view = {state: 'offline', offer: null, call: null, held: false, muted: false,
              since: null, wrapUpUntil: null};
// Page-side measurements the tests and the screen-pop bench read.
const hotline = window.hotline = {events: [], popShown: {}, connected: false};

// -- the WebSocket, reconnecting by itself -----------------------------------------

class DesktopLink {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.attempt = 0;
    this.waiting = null;   // the pending webrtc_offer's resolver
    this.open();
  }
  open() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = this.ws = new WebSocket(`${scheme}://${location.host}/agent/ws`);
    ws.onopen = () => ws.send(JSON.stringify({type: 'hello', token}));
    ws.onmessage = msg => {
      const event = JSON.parse(msg.data);
      if (event.type === 'webrtc_answer' && this.waiting) { this.waiting(event); this.waiting = null; return; }
      if (event.type === 'welcome') this.attempt = 0;
      this.onEvent(event);
    };
    ws.onclose = close => {
      hotline.connected = false;
      $('link').textContent = 'reconnecting…';
      if (close.code === 4401) { sessionStorage.removeItem('hotline.token'); location.replace('/login'); return; }
      const delay = BACKOFF_MS[Math.min(this.attempt++, BACKOFF_MS.length - 1)];
      setTimeout(() => this.open(), delay * (0.75 + Math.random() * 0.5));
    };
  }
  send(command) {
    if (this.ws.readyState !== WebSocket.OPEN) { showError('Not connected; try again in a moment'); return false; }
    this.ws.send(JSON.stringify(command));
    return true;
  }
  signal(offer) {
    return new Promise((resolve, reject) => {
      this.waiting = answer => resolve({type: 'answer', sdp: answer.sdp});
      if (!this.send({type: 'webrtc_offer', sdp: offer.sdp})) reject(new Error('not connected'));
    });
  }
}

const audio = window.audio = new AgentAudio($('remote-audio'));
audio.onstate = state => {
  $('audio-state').textContent = 'audio: ' + state;
  if ((state === 'failed' || state === 'disconnected') && hotline.connected) restartAudio(2000);
};
let audioTimer = null;
function restartAudio(delay = 0) {
  clearTimeout(audioTimer);
  audioTimer = setTimeout(() => audio.start(o => link.signal(o)).catch(e => showError('Audio: ' + e.message)), delay);
}

const link = new DesktopLink(handle);

function handle(event) {
  hotline.events.push(event);
  switch (event.type) {
    case 'welcome':
      hotline.connected = true;
      $('link').textContent = '';
      $('agent').textContent = event.username;
      fillTransferTargets(event.queues || []);
      restartAudio();   // a fresh peer connection per page (and per reconnect)
      break;
    case 'state': applyState(event); break;
    case 'offer': view.offer = event; view.state = 'reserved'; showPop(event, event.sent_at); break;
    case 'screen_pop':
      if (view.offer && view.offer.offer_id === event.offer_id) {
        view.offer = {...view.offer, screen_pop: event.screen_pop}; showPop(view.offer, event.sent_at);
      }
      break;
    case 'offer_cancelled':
      if (view.offer && view.offer.offer_id === event.offer_id) { view.offer = null; hidePop(); }
      break;
    case 'connected':
      view.call = {...(event.call || {}), queue: event.queue}; view.since = event.since; view.offer = null;
      break;
    case 'held': view.held = event.on; break;
    case 'muted': view.muted = event.on; break;
    case 'ended': view.call = null; view.held = false; view.since = null; break;
    case 'wrap_up': view.wrapUpUntil = event.until; $('wrap-up').hidden = false; break;
    case 'error': showError(event.message); break;
  }
  render();
}

function applyState(s) {
  view.state = s.state;
  view.held = !!s.held;
  if ('muted' in s) view.muted = !!s.muted;
  view.wrapUpUntil = s.wrap_up_until;
  view.call = s.call || null;
  if (s.call && s.call.since) view.since = s.call.since;
  else if (s.state === 'on_call' && !view.since) view.since = s.since;
  if (!s.call) view.since = null;
  view.offer = s.offer || null;
  if (s.offer) showPop(s.offer, s.sent_at); else if (!s.call) hidePop();
  $('wrap-up').hidden = s.state !== 'wrap_up';
  $('state').title = s.reason || '';
}

// -- drawing ----------------------------------------------------------------------------

function render() {
  const s = view.state, onCall = s === 'on_call' && view.call;
  $('state').textContent = s.replace('_', ' ');
  $('state').dataset.state = s;
  $('ready').disabled = !(s === 'not_ready' || s === 'offline' || s === 'wrap_up');
  $('not-ready').disabled = s === 'not_ready' || s === 'offline';
  $('answer').disabled = !view.offer;
  $('hold').disabled = !onCall || view.held;
  $('resume').disabled = !onCall || !view.held;
  $('mute').disabled = !onCall;
  $('mute').setAttribute('aria-pressed', String(view.muted));
  $('hangup').disabled = !onCall;
  $('transfer').disabled = !onCall;
  document.querySelectorAll('#keypad button').forEach(b => { b.disabled = !onCall; });
  const party = view.call || (view.offer && view.offer.call);
  $('call-party').textContent = party ? shortUri(party.caller) : '—';
  $('screen-pop').classList.toggle('ringing', !!view.offer);
}

setInterval(() => {
  $('timer').textContent = view.since ? clock(Date.now() / 1000 - view.since) : '00:00';
  if (view.wrapUpUntil && view.state === 'wrap_up') {
    $('wrap-up-left').textContent = clock(Math.max(0, view.wrapUpUntil - Date.now() / 1000)) + ' left';
  }
}, 250);

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const mm = String(Math.floor(s / 60)).padStart(2, '0'), ss = String(s % 60).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm.slice(-2)}:${ss}` : `${mm}:${ss}`;
}

function shortUri(uri) {
  const m = /^(?:sips?:)?([^@;>]+)/.exec(String(uri || '').replace(/^.*</, ''));
  return m ? m[1] : String(uri || '');
}

function showError(message) {
  $('error').textContent = message;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => { $('error').textContent = ''; }, 6000);
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function day(iso) { return iso ? String(iso).slice(0, 10) : ''; }

function fillTable(table, head, rows) {
  table.replaceChildren();
  if (!rows.length) { table.append(el('caption', 'none', 'muted')); return; }
  const tr = el('tr'); head.forEach(h => tr.append(el('th', h))); table.append(tr);
  rows.forEach(cells => {
    const row = el('tr');
    cells.forEach(c => row.append(c instanceof Node ? el('td').appendChild(c).parentNode : el('td', c)));
    table.append(row);
  });
}

// -- the screen-pop ----------------------------------------------------------------------

// The pop is crm_bridge.screenpop.build_screen_pop's dict; the offer adds queue, wait and
// the IVR context. "status": "pending" means the CRM has not answered yet (an update follows).
function showPop(offer, sentAt) {
  const pop = offer.screen_pop || {}, ctx = offer.context || {};
  const caller = pop.caller || {};
  $('pop-name').textContent = caller.name || (pop.status === 'pending' || !offer.screen_pop
    ? 'Caller' : 'Unknown caller');
  $('pop-number').textContent = caller.number || shortUri(offer.call && offer.call.caller);
  $('pop-vip').hidden = !(caller.vip || pop.vip);
  $('pop-pending').hidden = !(pop.status === 'pending' || !offer.screen_pop);
  const wait = offer.wait_seconds ?? pop.wait_seconds;
  $('pop-wait').textContent = wait === undefined || wait === null ? '—' : clock(wait);
  $('pop-queue').textContent = [offer.queue, offer.transferred_from && 'from ' + offer.transferred_from]
    .filter(Boolean).join(' · ');
  const orders = pop.orders || (pop.last_order ? [pop.last_order] : []);
  fillTable($('pop-orders'), ['Order', 'Status', 'Placed'], orders.map(o => [
    o.number, el('span', o.status, 'status ' + o.status), day(o.placed_at)]));
  const tickets = pop.tickets || [];
  $('pop-tickets').replaceChildren(...(tickets.length ? tickets.map(t =>
    el('li', `#${t.id} ${t.subject} (${t.status}${t.priority && t.priority !== 'normal' ? ', ' + t.priority : ''})`))
    : [el('li', 'none', 'muted')]));
  fillTable($('pop-history'), ['Date', 'Queue', 'Disposition', 'Notes'], (pop.history || []).map(h => [
    day(h.date || h.started_at), h.queue || '', h.disposition || '', h.notes || '']));
  const ivr = pop.ivr || {};
  const path = (ivr.path && ivr.path.length ? ivr.path : ctx.ivr_path || ctx.path) || [];
  $('pop-ivr-path').textContent = path.length ? path.join(' → ') : 'no IVR steps';
  const inputs = (ivr.inputs && ivr.inputs.length ? ivr.inputs : ctx.inputs || ctx.transcript) || [];
  const lines = inputs.map(i => typeof i === 'string' ? i
    : `${(i.kind || i.source) === 'dtmf' ? 'keyed' : 'said'}: ${i.text || i.value || ''}`);
  Object.entries(ctx.variables || {}).forEach(([k, v]) => lines.push(`${k}: ${v}`));
  $('pop-ivr-said').replaceChildren(...lines.map(l => el('li', l)));
  $('screen-pop').hidden = false;
  // Visible = painted: stamp after the next frame is drawn (the bench reads this).
  const id = offer.offer_id, name = $('pop-name').textContent;
  if (!(id in hotline.popShown)) {
    hotline.popShown[id] = null;   // the first event carrying this offer is the one timed
    requestAnimationFrame(() => setTimeout(() => {
      hotline.popShown[id] = {at: Date.now(), sent_at: sentAt, name};
    }, 0));
  }
}

function hidePop() {
  if (!view.call) $('screen-pop').hidden = true;
}

function fillTransferTargets(queues) {
  const select = $('transfer-target');
  select.replaceChildren(...queues.map(q => { const o = el('option', 'Queue: ' + q); o.value = 'queue:' + q; return o; }));
  ['agent1', 'agent2'].forEach(a => { const o = el('option', 'Agent: ' + a); o.value = 'agent:' + a; select.append(o); });
}

// -- buttons -------------------------------------------------------------------------------

$('ready').onclick = () => link.send({type: 'ready'});
$('not-ready').onclick = () => link.send({type: 'not_ready', reason: $('not-ready-reason').value});
$('answer').onclick = () => view.offer && link.send({type: 'answer', offer_id: view.offer.offer_id});
$('hold').onclick = () => link.send({type: 'hold', on: true});
$('resume').onclick = () => link.send({type: 'hold', on: false});
$('mute').onclick = () => link.send({type: 'mute', on: !view.muted});
$('hangup').onclick = () => link.send({type: 'hangup'});
$('transfer').onclick = () => link.send({type: 'transfer', target: $('transfer-target').value});
'123456789*0#'.split('').forEach(key => {
  const b = el('button', key); b.type = 'button'; b.disabled = true;
  b.onclick = () => link.send({type: 'dtmf', digits: key});
  $('keypad').append(b);
});
$('wrap-up').onsubmit = event => {
  event.preventDefault();
  const form = event.target;
  if (link.send({type: 'wrap_up', disposition: form.disposition.value, notes: form.notes.value,
                 resolved: form.resolved.checked})) {
    form.reset(); form.hidden = true;
    if (!view.call) $('screen-pop').hidden = true;
  }
};
$('sign-out').onclick = async () => {
  await fetch('/api/v1/logout', {method: 'POST', headers: {Authorization: 'Bearer ' + token}}).catch(() => {});
  sessionStorage.removeItem('hotline.token');
  location.replace('/login');
};
render();
