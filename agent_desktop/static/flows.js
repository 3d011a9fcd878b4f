// The supervisors' IVR flow editor: plain JS over /api/v1 (no build step, no CDN).
//
// State lives in `S`; every change re-renders the parts it touches. The flow is drawn
// as a layered graph in SVG (layers by distance from the start node); node forms are
// generated from the JSON Schema served at /api/v1/flows/schema, so a new node kind or
// field needs no change here. Edits are validated as you type (the server's validator
// answers [{node_id, field, message}]) and the errors are shown on the nodes.
'use strict';

const API = '/api/v1';
const TOKEN_KEY = 'hotline.token';
// Fields holding the id of another node; list items (menu options, branch rules) use `next`.
const EDGE_FIELDS = ['next', 'fallback', 'not_found', 'failure', 'otherwise', 'no_agents'];
const LIST_EDGES = {options: 'next', rules: 'next'};
const NODE_W = 150, NODE_H = 46, GAP_X = 24, GAP_Y = 46, PAD = 16;

const S = {
  token: sessionStorage.getItem(TOKEN_KEY), user: null, schema: null,
  flows: [], flowId: null, flow: null, doc: null, selected: null,
  errors: [], versions: [], dirty: false, script: [], sim: null,
};

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
};
const human = (name) => name.replace(/[_.]/g, ' ').replace(/^./, (c) => c.toUpperCase());

// -- API ------------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = {Accept: 'application/json'};
  if (S.token) headers.Authorization = `Bearer ${S.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(API + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (_) { /* empty or not JSON */ }
  if (response.status === 401 && path !== '/login') signedOut('Your session ended; sign in again.');
  return {status: response.status, ok: response.ok, data};
}

function status(message, bad = false) {
  const line = $('#status');
  line.textContent = message;
  line.classList.toggle('bad', bad);
}

function failure(result, what) {
  const reason = result.data && result.data.error ? result.data.error : `HTTP ${result.status}`;
  status(`${what} failed: ${reason}`, true);
}

// -- sign-in --------------------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  const username = $('#username').value.trim();
  const password = $('#password').value;
  const result = await api('POST', '/login', {username, password});
  if (!result.ok) {
    $('#signin-error').textContent = result.data ? result.data.error : 'Sign-in failed.';
    return;
  }
  if (!['supervisor', 'admin'].includes(result.data.role)) {
    $('#signin-error').textContent = 'Only supervisors and admins may edit flows.';
    return;
  }
  S.token = result.data.token;
  sessionStorage.setItem(TOKEN_KEY, S.token);
  sessionStorage.setItem('hotline.user', result.data.username);
  $('#password').value = '';
  await openEditor();
}

function signedOut(message = '') {
  S.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $('#editor').hidden = true;
  $('#signout').hidden = true;
  $('#whoami').textContent = '';
  $('#signin-view').hidden = false;
  $('#signin-error').textContent = message;
}

async function signOut() {
  await api('POST', '/logout');
  signedOut();
}

async function openEditor() {
  const schema = await api('GET', '/flows/schema');
  if (!schema.ok) {
    if (schema.status !== 401) signedOut(schema.data ? schema.data.error : 'Cannot load flows.');
    return;
  }
  S.schema = schema.data;
  $('#signin-view').hidden = true;
  $('#editor').hidden = false;
  $('#signout').hidden = false;
  $('#whoami').textContent = `Signed in as ${sessionStorage.getItem('hotline.user') || ''}`;
  fillKindPicker();
  await loadFlows();
  if (S.flows.length) await openFlow(S.flows[0].id);
  await loadNumbers();
}

// -- flows list and numbers -----------------------------------------------------------

async function loadFlows() {
  const result = await api('GET', '/flows');
  if (!result.ok) return failure(result, 'Loading the flows');
  S.flows = result.data.flows;
  renderFlowList();
}

function renderFlowList() {
  $('#flow-list').replaceChildren(...S.flows.map((flow) => el('li', {},
    el('button', {
      type: 'button', 'aria-current': flow.id === S.flowId ? 'true' : 'false',
      onclick: () => openFlow(flow.id),
    }, `${flow.name}${flow.live_version ? ` (v${flow.live_version})` : ' (draft)'}`))));
}

async function createFlow() {
  const name = $('#new-flow-name').value.trim();
  if (!name) return status('Give the new flow a name.', true);
  const result = await api('POST', '/flows', {name});
  if (!result.ok) return failure(result, 'Creating the flow');
  $('#new-flow-name').value = '';
  await loadFlows();
  await openFlow(result.data.id);
}

async function loadNumbers() {
  const result = await api('GET', '/flows/numbers');
  if (!result.ok) return;
  const flowName = (id) => (S.flows.find((f) => f.id === id) || {name: `#${id}`}).name;
  $('#numbers tbody').replaceChildren(...result.data.numbers.map((row) => el('tr', {},
    el('td', {}, row.number), el('td', {}, flowName(row.flow_id)),
    el('td', {}, el('button', {
      type: 'button', 'aria-label': `Unmap number ${row.number}`,
      onclick: () => unmapNumber(row.number),
    }, 'Unmap')))));
}

async function mapNumber() {
  const number = $('#map-number').value.trim();
  if (!number || S.flowId === null) return status('Type a number, then route it.', true);
  const result = await api('PUT', `/flows/numbers/${encodeURIComponent(number)}`,
    {flow_id: S.flowId});
  if (!result.ok) return failure(result, 'Routing the number');
  $('#map-number').value = '';
  status(`Calls to ${number} now run ${S.flow.name}.`);
  await loadNumbers();
}

async function unmapNumber(number) {
  const result = await api('DELETE', `/flows/numbers/${encodeURIComponent(number)}`);
  if (!result.ok) return failure(result, 'Unmapping the number');
  await loadNumbers();
}

// -- one flow -------------------------------------------------------------------------

async function openFlow(id) {
  if (S.dirty && !confirm('Discard the unsaved changes?')) return;
  const result = await api('GET', `/flows/${id}`);
  if (!result.ok) return failure(result, 'Opening the flow');
  S.flowId = id;
  S.flow = result.data;
  S.doc = structuredClone(result.data.draft);
  S.errors = result.data.errors || [];
  S.dirty = false;
  S.selected = null;
  resetSimulation();
  renderFlowList();
  renderAll();
  status(`Opened ${S.flow.name}.`);
  await loadVersions();
}

function renderAll() {
  $('#flow-name').textContent = S.flow ? S.flow.name : '';
  $('#flow-state').textContent = !S.flow ? '' : S.dirty ? '— unsaved changes'
    : S.flow.live_version ? `— live: version ${S.flow.live_version}` : '— never published';
  renderGraph();
  renderErrors();
  renderNodeForm();
}

function markDirty() {
  S.dirty = true;
  $('#flow-state').textContent = '— unsaved changes';
  renderGraph();
  scheduleValidation();
}

let validationTimer = null;
function scheduleValidation() {
  clearTimeout(validationTimer);
  validationTimer = setTimeout(validateNow, 250);
}

async function validateNow() {
  clearTimeout(validationTimer);
  if (S.flowId === null) return;
  const result = await api('POST', `/flows/${S.flowId}/validate`, {document: S.doc});
  if (!result.ok) return failure(result, 'Validation');
  S.errors = result.data.errors;
  renderGraph();
  renderErrors();
  renderFieldErrors();
  return result.data.valid;
}

async function saveDraft() {
  if (S.flowId === null) return false;
  const result = await api('PUT', `/flows/${S.flowId}`, {document: S.doc});
  if (!result.ok) { failure(result, 'Saving the draft'); return false; }
  S.flow = result.data;
  S.errors = result.data.errors || [];
  S.dirty = false;
  renderAll();
  const count = S.errors.length;
  status(count ? `Draft saved with ${count} validation error${count > 1 ? 's' : ''}.`
    : 'Draft saved; it is valid.', count > 0);
  return true;
}

async function publish() {
  if (S.dirty && !(await saveDraft())) return;
  const comment = $('#publish-comment').value.trim();
  const result = await api('POST', `/flows/${S.flowId}/publish`, {comment});
  if (result.status === 422) {
    S.errors = result.data.detail.errors;
    renderGraph(); renderErrors(); renderFieldErrors();
    return status(`Not published: ${S.errors.length} validation error(s).`, true);
  }
  if (!result.ok) return failure(result, 'Publishing');
  $('#publish-comment').value = '';
  status(`Published version ${result.data.version}.`);
  await refreshFlow();
}

async function refreshFlow() {
  const result = await api('GET', `/flows/${S.flowId}`);
  if (result.ok && !S.dirty) {
    S.flow = result.data;
    S.doc = structuredClone(result.data.draft);
    S.errors = result.data.errors || [];
  } else if (result.ok) {
    S.flow.live_version = result.data.live_version;
  }
  renderAll();
  await Promise.all([loadVersions(), loadFlows()]);
}

// -- versions, rollback, diff ---------------------------------------------------------

async function loadVersions() {
  const result = await api('GET', `/flows/${S.flowId}/versions`);
  if (!result.ok) return failure(result, 'Loading the versions');
  S.versions = result.data.versions;
  $('#versions tbody').replaceChildren(...S.versions.map((v) => el('tr',
    {class: v.live ? 'live' : null},
    el('td', {}, `v${v.version}${v.live ? ' (live)' : ''}`),
    el('td', {}, v.published_by || ''),
    el('td', {}, v.published_at ? new Date(v.published_at).toLocaleString() : ''),
    el('td', {}, v.comment || ''),
    el('td', {}, v.live ? '' : el('button', {
      type: 'button', 'aria-label': `Roll back to version ${v.version}`,
      onclick: () => rollback(v.version),
    }, 'Roll back')))));
  const options = () => [el('option', {value: 'draft'}, 'Draft'),
    ...S.versions.map((v) => el('option', {value: v.version}, `Version ${v.version}`))];
  $('#diff-from').replaceChildren(...options());
  $('#diff-to').replaceChildren(...options());
  if (S.versions.length) $('#diff-from').value = String(S.versions[0].version);
}

async function rollback(version) {
  const result = await api('POST', `/flows/${S.flowId}/rollback`, {version});
  if (!result.ok) return failure(result, 'Rolling back');
  status(`Rolled back: version ${result.data.version} republishes version ${version}.`);
  await refreshFlow();
}

async function showDiff() {
  const from = $('#diff-from').value, to = $('#diff-to').value;
  const result = await api('GET', `/flows/${S.flowId}/diff?from=${from}&to=${to}`);
  if (!result.ok) return failure(result, 'The diff');
  const lines = result.data.changes.length ? result.data.changes.map((c) => el('div', {
    class: c.op === 'added' ? 'diff-add' : c.op === 'removed' ? 'diff-del' : null,
  }, `${c.op === 'added' ? '+' : c.op === 'removed' ? '-' : '~'} ${c.path}: `
    + (c.op === 'changed' ? `${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}`
      : JSON.stringify(c.op === 'added' ? c.new : c.old))))
    : [el('div', {}, 'No differences.')];
  $('#diff').replaceChildren(...lines);
  $('#diff').hidden = false;
}

// -- graph ----------------------------------------------------------------------------

function nodeById(id) {
  return S.doc.nodes.find((n) => n && n.id === id);
}

function edgesOf(node) {
  const found = [];
  for (const field of EDGE_FIELDS) {
    if (typeof node[field] === 'string' && node[field]) {
      found.push({field, to: node[field], label: field === 'next' ? '' : field});
    }
  }
  for (const [list, key] of Object.entries(LIST_EDGES)) {
    (Array.isArray(node[list]) ? node[list] : []).forEach((item, i) => {
      if (item && typeof item[key] === 'string' && item[key]) {
        const label = item.digit || (item.phrases && item.phrases[0])
          || (item.when && item.when.kind) || `${list} ${i}`;
        found.push({field: `${list}.${i}.${key}`, to: item[key], label});
      }
    });
  }
  return found;
}

function layout() {
  // Layers by breadth-first distance from the start; unreachable nodes form a last layer.
  const nodes = S.doc.nodes.filter((n) => n && typeof n.id === 'string');
  const start = S.doc.start || (nodes[0] && nodes[0].id);
  const depth = new Map();
  const queue = nodeById(start) ? [start] : [];
  if (queue.length) depth.set(start, 0);
  while (queue.length) {
    const id = queue.shift();
    for (const edge of edgesOf(nodeById(id))) {
      if (nodeById(edge.to) && !depth.has(edge.to)) {
        depth.set(edge.to, depth.get(id) + 1);
        queue.push(edge.to);
      }
    }
  }
  const last = Math.max(-1, ...depth.values()) + 1;
  const layers = [];
  for (const node of nodes) {
    const d = depth.has(node.id) ? depth.get(node.id) : last;
    (layers[d] = layers[d] || []).push(node);
  }
  const position = new Map();
  layers.forEach((layer, d) => layer.forEach((node, i) => position.set(node.id, {
    x: PAD + i * (NODE_W + GAP_X), y: PAD + d * (NODE_H + GAP_Y),
  })));
  const width = PAD * 2 + Math.max(1, ...layers.map((l) => l.length)) * (NODE_W + GAP_X);
  const height = PAD * 2 + layers.length * (NODE_H + GAP_Y);
  return {position, width, height};
}

function errorsFor(id) {
  return S.errors.filter((e) => e.node_id === id);
}

function renderGraph() {
  const svg = $('#graph');
  if (!S.doc || !Array.isArray(S.doc.nodes)) {
    $('#nodes').replaceChildren(); $('#edges').replaceChildren();
    return;
  }
  const {position, width, height} = layout();
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  const path = S.sim ? S.sim.path : [];
  const stepped = new Set(path.slice(1).map((id, i) => `${path[i]}>${id}`));
  const edges = [];
  for (const node of S.doc.nodes) {
    if (!node || !position.has(node.id)) continue;
    for (const edge of edgesOf(node)) {
      if (position.has(edge.to)) {
        edges.push(drawEdge(position.get(node.id), position.get(edge.to), {...edge, from: node.id},
          stepped.has(`${node.id}>${edge.to}`)));
      }
    }
  }
  $('#edges').replaceChildren(...edges.flat());
  const onPath = new Set(path);
  $('#nodes').replaceChildren(...S.doc.nodes
    .filter((n) => n && position.has(n.id))
    .map((n) => drawNode(n, position.get(n.id), onPath.has(n.id))));
}

function drawEdge(from, to, edge, onPath) {
  const x1 = from.x + NODE_W / 2, y1 = from.y + NODE_H;
  const x2 = to.x + NODE_W / 2, y2 = to.y;
  let d;
  if (y2 > y1) {
    const mid = (y1 + y2) / 2;
    d = `M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2}`;
  } else {  // back edge: around the right side
    const side = Math.max(from.x, to.x) + NODE_W + GAP_X / 2;
    d = `M${from.x + NODE_W},${from.y + NODE_H / 2} C${side},${from.y + NODE_H / 2} `
      + `${side},${to.y + NODE_H / 2} ${to.x + NODE_W},${to.y + NODE_H / 2}`;
  }
  const parts = [el('svg:path', {d, class: onPath ? 'edge on-path' : 'edge',
    'data-from': edge.from, 'data-field': edge.field, 'data-to': edge.to})];
  if (edge.label) {
    parts.push(el('svg:text', {class: 'edge-label', x: (x1 + x2) / 2 + 4, y: (y1 + y2) / 2},
      edge.label));
  }
  return parts;
}

function drawNode(node, at, onPath) {
  const errors = errorsFor(node.id);
  const classes = ['node'];
  if (errors.length) classes.push('invalid');
  if (onPath) classes.push('on-path');
  if (node.id === S.selected) classes.push('selected');
  if (S.sim && S.sim.path[S.sim.path.length - 1] === node.id) classes.push('current');
  const summary = errors.length ? `, ${errors.length} error${errors.length > 1 ? 's' : ''}` : '';
  const g = el('svg:g', {
    class: classes.join(' '), transform: `translate(${at.x},${at.y})`, tabindex: 0,
    role: 'button', 'data-id': node.id, 'data-kind': node.kind,
    'aria-label': `${node.kind} node ${node.id}${summary}${onPath ? ', on the path' : ''}`,
    'aria-pressed': node.id === S.selected ? 'true' : 'false',
    onclick: () => selectNode(node.id),
    onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); selectNode(node.id); } },
  },
  el('svg:rect', {width: NODE_W, height: NODE_H, rx: 6}),
  el('svg:text', {x: 8, y: 15, class: 'kind'}, node.kind),
  el('svg:text', {x: 8, y: 30}, clip(node.label || node.id, 22)));
  if (errors.length) {
    g.append(el('svg:text', {x: 8, y: 42, class: 'err'}, clip(`⚠ ${errors[0].message}`, 28)),
      el('svg:title', {}, errors.map((e) => `${e.field}: ${e.message}`).join('\n')));
  }
  return g;
}

function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

function renderErrors() {
  $('#errors').replaceChildren(...S.errors.map((e) => el('li', {},
    e.node_id ? el('a', {href: '#', onclick: (ev) => { ev.preventDefault(); selectNode(e.node_id); }},
      e.node_id) : 'flow',
    ` · ${e.field || '(document)'}: ${e.message}`)));
}

// -- node form (generated from the JSON Schema) ---------------------------------------

function defOf(kind) {
  const name = S.schema && Object.keys(S.schema.$defs || {}).find((key) => {
    const props = S.schema.$defs[key].properties || {};
    return props.kind && props.kind.const === kind && key.endsWith('Node');
  });
  return name ? S.schema.$defs[name] : null;
}

function resolve(prop) {
  // -> {schema, nullable, ref}: one level of $ref / anyOf-with-null unwrapped.
  let nullable = false, schema = prop;
  if (prop.anyOf) {
    const rest = prop.anyOf.filter((p) => p.type !== 'null');
    nullable = rest.length < prop.anyOf.length;
    if (rest.length === 1) schema = rest[0];
  }
  const ref = schema.$ref ? schema.$ref.split('/').pop() : null;
  if (ref) schema = S.schema.$defs[ref];
  return {schema, nullable, ref};
}

function fillKindPicker() {
  const kinds = Object.values(S.schema.$defs || {})
    .map((d) => d.properties && d.properties.kind && d.properties.kind.const)
    .filter((k, i, all) => k && all.indexOf(k) === i && defOf(k));
  $('#new-node-kind').replaceChildren(...kinds.map((k) => el('option', {value: k}, k)));
}

function selectNode(id) {
  S.selected = id;
  renderGraph();
  renderNodeForm();
  const first = $('#node-fields input, #node-fields select, #node-fields textarea');
  if (first) first.focus({preventScroll: true});
}

function renderNodeForm() {
  const node = S.selected && S.doc ? nodeById(S.selected) : null;
  $('#node-form').hidden = !node;
  if (!node) return;
  $('#node-title').textContent = `Node ${node.id} (${node.kind})`;
  const def = defOf(node.kind);
  const fields = [];
  for (const [name, prop] of Object.entries(def ? def.properties : {})) {
    fields.push(...fieldFor(node, name, prop));
  }
  $('#node-fields').replaceChildren(...fields);
  renderFieldErrors();
}

function inputId(name) {
  return `field-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

function fieldFor(node, name, prop) {
  const {schema, nullable, ref} = resolve(prop);
  const label = (text, id) => el('label', {for: id}, text);
  if (name === 'kind') return [];
  if (EDGE_FIELDS.includes(name)) return edgeField(node, name, schema.title || human(name));
  if (ref === 'Prompt') return promptFields(node, name, nullable);
  const id = inputId(name);
  const title = prop.title || schema.title || human(name);
  const value = node[name] !== undefined ? node[name] : prop.default;
  const set = (v) => { if (v === undefined) delete node[name]; else node[name] = v; changed(node, name); };
  if (schema.type === 'boolean') {
    return [el('label', {class: 'inline', for: id},
      el('input', {id, type: 'checkbox', checked: Boolean(value),
        onchange: (e) => set(e.target.checked)}), title), errorSlot(name)];
  }
  if (schema.enum) {
    return [label(title, id), el('select', {id, onchange: (e) => set(e.target.value)},
      ...schema.enum.map((v) => el('option', {value: v, selected: v === value}, v))),
    errorSlot(name)];
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    return [label(title, id), el('input', {id, type: 'number', value: value ?? '',
      step: schema.type === 'integer' ? 1 : 'any',
      oninput: (e) => set(e.target.value === '' ? undefined : Number(e.target.value))}),
    errorSlot(name)];
  }
  if (schema.type === 'array' && schema.items && schema.items.$ref) {
    return listField(node, name, title, S.schema.$defs[schema.items.$ref.split('/').pop()]);
  }
  if (schema.type === 'string') {
    return [label(title, id), el('input', {id, value: value ?? '',
      oninput: (e) => (name === 'id' ? renameNode(node, e.target.value)
        : set(e.target.value === '' && nullable ? undefined : e.target.value))}),
    errorSlot(name)];
  }
  return [label(`${title} (JSON)`, id), el('textarea', {id,
    oninput: (e) => {
      try { set(e.target.value.trim() ? JSON.parse(e.target.value) : undefined); e.target.setCustomValidity(''); }
      catch (_) { e.target.setCustomValidity('not valid JSON'); }
    }}, value === undefined ? '' : JSON.stringify(value, null, 1)), errorSlot(name)];
}

function listField(node, name, title, itemDef) {
  // A list of small objects (menu options, branch rules): one fieldset per item.
  const items = Array.isArray(node[name]) ? node[name] : [];
  const noun = title.replace(/s$/, '');
  const rerender = () => { changed(node, name); renderNodeForm(); };
  const sets = items.map((item, i) => {
    const legend = `${noun} ${i + 1}`;
    const fields = Object.entries(itemDef.properties || {}).flatMap(
      ([key, prop]) => itemField(item, `${name}.${i}.${key}`, `${legend} ${key}`, key, prop, node));
    return el('fieldset', {}, el('legend', {}, legend), errorSlot(`${name}.${i}`, true), ...fields,
      el('button', {type: 'button', onclick: () => { items.splice(i, 1); rerender(); }},
        `Remove ${legend.toLowerCase()}`));
  });
  return [el('h3', {}, title), errorSlot(name, true), ...sets,
    el('button', {type: 'button', onclick: () => {
      node[name] = [...items, {}];
      rerender();
    }}, `Add ${noun.toLowerCase()}`)];
}

function itemField(item, path, label, key, prop, node) {
  const {schema, nullable} = resolve(prop);
  const id = inputId(path);
  const set = (v) => {
    if (v === undefined || (v === '' && nullable)) delete item[key]; else item[key] = v;
    changed(node, path);
  };
  let input;
  if (key === 'next') {
    input = el('select', {id, onchange: (e) => set(e.target.value)},
      el('option', {value: ''}, '— none —'),
      ...S.doc.nodes.filter((n) => n && n.id !== node.id).map((n) => el('option',
        {value: n.id, selected: item.next === n.id}, n.id)));
  } else if (schema.type === 'string') {
    input = el('input', {id, value: item[key] ?? '', oninput: (e) => set(e.target.value)});
  } else if (schema.type === 'array' && schema.items && schema.items.type === 'string') {
    label = `${label} (comma-separated)`;
    input = el('input', {id, value: (item[key] || []).join(', '), oninput: (e) => set(
      e.target.value.split(',').map((w) => w.trim()).filter(Boolean))});
  } else {
    label = `${label} (JSON)`;
    input = el('textarea', {id, oninput: (e) => {
      try { set(e.target.value.trim() ? JSON.parse(e.target.value) : undefined); e.target.setCustomValidity(''); }
      catch (_) { e.target.setCustomValidity('not valid JSON'); }
    }}, item[key] === undefined ? '' : JSON.stringify(item[key], null, 1));
  }
  return [el('label', {for: id}, label), input, errorSlot(path)];
}

function edgeField(node, name, title) {
  const id = inputId(name);
  const others = S.doc.nodes.filter((n) => n && n.id !== node.id).map((n) => n.id);
  return [el('label', {for: id}, title), el('select', {id, onchange: (e) => {
    if (e.target.value) node[name] = e.target.value; else delete node[name];
    changed(node, name);
  }}, el('option', {value: ''}, '— none —'),
  ...others.map((other) => el('option', {value: other, selected: node[name] === other}, other))),
  errorSlot(name)];
}

function promptFields(node, name, nullable) {
  const prompt = node[name] || {};
  // An emptied prompt is dropped, so the node's built-in wording (or none) applies again;
  // other prompt fields (translations, voice) keep it alive.
  const update = (key, value) => {
    const next = {...(node[name] || {}), [key]: value};
    if (!next[key]) delete next[key];
    if (Object.keys(next).length === 0) delete node[name]; else node[name] = next;
    changed(node, name);
  };
  const textId = inputId(`${name}-text`), fileId = inputId(`${name}-file`);
  const placeholder = nullable ? 'none' : 'the default wording';
  return [
    el('label', {for: textId}, `${human(name)} text`),
    el('textarea', {id: textId, placeholder, oninput: (e) => update('text', e.target.value)},
      prompt.text || ''),
    errorSlot(`${name}.text`),
    el('label', {for: fileId}, `${human(name)} file`),
    el('input', {id: fileId, value: prompt.file || '', oninput: (e) => update('file', e.target.value)}),
  ];
}

function errorSlot(field, exact = false) {
  // A field's slot also shows its sub-fields' errors (prompt.text under prompt), except
  // where the sub-fields have slots of their own (list items).
  return el('p', {class: 'field-error', 'data-field': field, 'data-exact': exact, role: 'alert'});
}

function renderFieldErrors() {
  const mine = S.selected ? errorsFor(S.selected) : [];
  for (const slot of document.querySelectorAll('#node-fields .field-error')) {
    const field = slot.dataset.field;
    slot.textContent = mine
      .filter((e) => e.field === field
        || (!slot.hasAttribute('data-exact') && e.field.startsWith(`${field}.`)))
      .map((e) => e.message).join('; ');
  }
}

function changed(node, name) {
  if (name === 'label' || name === 'id') $('#node-title').textContent = `Node ${node.id} (${node.kind})`;
  markDirty();
}

function renameNode(node, id) {
  const old = node.id;
  if (!id || id === old) return;
  for (const other of S.doc.nodes) {
    if (!other) continue;
    for (const field of EDGE_FIELDS) if (other[field] === old) other[field] = id;
    for (const [list, key] of Object.entries(LIST_EDGES)) {
      for (const item of Array.isArray(other[list]) ? other[list] : []) {
        if (item && item[key] === old) item[key] = id;
      }
    }
  }
  if (S.doc.start === old) S.doc.start = id;
  node.id = id;
  S.selected = id;
  changed(node, 'id');
}

function addNode() {
  const kind = $('#new-node-kind').value;
  let n = 1;
  while (nodeById(`${kind}_${n}`)) n += 1;
  S.doc.nodes.push({id: `${kind}_${n}`, kind});
  markDirty();
  selectNode(`${kind}_${n}`);
}

function deleteNode() {
  S.doc.nodes = S.doc.nodes.filter((n) => !n || n.id !== S.selected);
  S.selected = null;
  renderNodeForm();
  markDirty();
}

function startHere() {
  S.doc.start = S.selected;
  markDirty();
}

// -- simulator ------------------------------------------------------------------------

function resetSimulation() {
  S.script = [];
  S.sim = null;
  $('#sim-prompts').replaceChildren();
  $('#sim-outcome').textContent = '';
  $('#sim-script').textContent = '';
}

async function simulate(step) {
  if (S.flowId === null) return;
  if (step) S.script.push(step);
  const body = {document: S.doc, script: S.script};
  const caller = $('#sim-caller').value.trim();
  if (caller) body.caller = caller;
  // datetime-local has no zone: the browser's own offset makes it an instant.
  const at = $('#sim-at').value;
  if (at) body.at = new Date(at).toISOString();
  body.agents = $('#sim-agents').checked;
  const result = await api('POST', `/flows/${S.flowId}/simulate`, body);
  if (result.status === 422) {
    S.errors = result.data.detail.errors;
    renderGraph(); renderErrors();
    $('#sim-outcome').textContent = 'Fix the validation errors before simulating.';
    return;
  }
  if (!result.ok) return failure(result, 'The simulation');
  S.sim = result.data;
  $('#sim-script').textContent = S.script.map((s) => (s.digits ? `pressed ${s.digits}`
    : `said "${s.says}"`)).join(', ');
  $('#sim-prompts').replaceChildren(...S.sim.prompts.map((p) => el('li', {'data-node': p.node_id},
    p.text)));
  $('#sim-outcome').textContent = S.sim.waiting_at
    ? `Waiting for the caller at ${S.sim.waiting_at}.`
    : `Call ended (${S.sim.reason}).`;
  renderGraph();
}

function buildKeypad() {
  $('#keypad').replaceChildren(...'123456789*0#'.split('').map((key) => el('button', {
    type: 'button', 'aria-label': `Press ${key}`, onclick: () => simulate({digits: key}),
  }, key)));
}

function callerSays() {
  const says = $('#caller-says').value.trim();
  if (!says) return;
  $('#caller-says').value = '';
  simulate({says});
}

// -- wiring ---------------------------------------------------------------------------

function wire() {
  $('#signin').addEventListener('submit', signIn);
  $('#signout').addEventListener('click', signOut);
  $('#create-flow').addEventListener('click', createFlow);
  $('#map-number-button').addEventListener('click', mapNumber);
  $('#save-draft').addEventListener('click', saveDraft);
  $('#validate').addEventListener('click', async () => {
    const valid = await validateNow();
    if (valid !== undefined) status(valid ? 'The flow is valid.' : `${S.errors.length} validation error(s).`, !valid);
  });
  $('#add-node').addEventListener('click', addNode);
  $('#delete-node').addEventListener('click', deleteNode);
  $('#start-here').addEventListener('click', startHere);
  $('#publish').addEventListener('click', publish);
  $('#show-diff').addEventListener('click', showDiff);
  $('#say').addEventListener('click', callerSays);
  $('#caller-says').addEventListener('keydown', (e) => { if (e.key === 'Enter') callerSays(); });
  $('#sim-reset').addEventListener('click', () => { resetSimulation(); simulate(); });
  buildKeypad();
  if (S.token) openEditor();
}

wire();
