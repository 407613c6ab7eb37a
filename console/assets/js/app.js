import { apiFor, session, setCsrfToken } from './api.js';
import { h } from './dom.js';
import * as fleet from './pages/fleet.js';
import * as privacy from './pages/privacy.js';
import * as records from './pages/records.js';
import * as telemetry from './pages/telemetry.js';
import { hashFor, parseHash, SECTIONS } from './routes.js';

const PAGES = { telemetry, fleet, privacy, records };
const ROLE_LABEL = {
  operator: 'Operator',
  tenant_admin: 'Tenant administrator',
  tenant_dpo: 'Data protection officer',
};

const $ = (id) => document.getElementById(id);
let user = null;
let api = null;
let tenants = [];
let dispose = null;
let renderSeq = 0;

export function flash(message, tone) {
  const el = $('flash');
  el.textContent = message;
  el.className = `flash ${tone === 'error' ? 'error' : ''}`;
  el.hidden = !message;
}

function renderNav(current, tenant) {
  $('nav').replaceChildren(
    ...SECTIONS.map((s) =>
      h(
        'li',
        null,
        h(
          'a',
          {
            href: hashFor(s.id, tenant),
            'aria-current': s.id === current ? 'page' : null,
            dataset: { section: s.id },
          },
          s.nav,
        ),
      ),
    ),
  );
}

function renderTenantPicker(route) {
  if (!api.operator) {
    $('tenant-badge').hidden = false;
    $('tenant-badge').textContent = user.tenantId;
    return;
  }
  const picker = $('tenant-picker');
  // Telemetry is always one tenant's (each tenant is its own pseudonymisation domain); the other sections may show all.
  const options = route.section === 'telemetry' ? [] : [{ value: '', label: 'All tenants' }];
  options.push(...tenants.map((t) => ({ value: t.id, label: `${t.name} (${t.id})` })));
  picker.replaceChildren(
    ...options.map((o) =>
      h('option', { value: o.value, selected: o.value === (route.tenant ?? '') }, o.label),
    ),
  );
  $('tenant-picker-wrap').hidden = false;
}

function notFound() {
  $('page-title').textContent = 'Not found';
  $('page').replaceChildren(
    h(
      'section',
      { class: 'card' },
      h(
        'div',
        { class: 'empty' },
        h('strong', null, 'There is nothing here.'),
        'The address does not name a page of this console. ',
        h('a', { href: '#/telemetry' }, 'Go to the telemetry explorer'),
      ),
    ),
  );
}

async function route() {
  const seq = ++renderSeq;
  dispose?.();
  dispose = null;
  flash('');
  const parsed = parseHash(location.hash);
  // A tenant user's tenant is the session's: a URL naming a tenant (theirs or another's) shows nothing and asks for nothing.
  if (parsed.notFound || (!api.operator && parsed.tenant !== null)) {
    renderNav(null, null);
    notFound();
    return;
  }
  let { tenant } = parsed;
  if (api.operator && tenant !== null && !tenants.some((t) => t.id === tenant)) {
    renderNav(parsed.section, null);
    notFound();
    return;
  }
  if (api.operator && parsed.section === 'telemetry' && tenant === null && tenants.length > 0) {
    tenant = tenants[0].id;
    history.replaceState(null, '', hashFor('telemetry', tenant, parsed.params));
  }
  const section = SECTIONS.find((s) => s.id === parsed.section);
  $('page-title').textContent = section.title;
  renderNav(section.id, tenant);
  renderTenantPicker({ ...parsed, tenant });
  const el = $('page');
  el.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  const ctx = {
    api,
    user,
    tenant: api.operator ? tenant : user.tenantId,
    tenants,
    params: parsed.params,
    el,
    flash,
    // Keeps the form's state in the address (shareable, survives reload) without a history entry per change;
    // only while the address still names this page. Leaving it changes the address at once but runs
    // route() a task later: a save in between must not put this page's address back, or route() reads
    // that and renders this page again instead of the one asked for.
    setParams: (params) => {
      const shown = parseHash(location.hash);
      const own = api.operator ? tenant : null;
      if (seq !== renderSeq || shown.section !== section.id || (shown.tenant ?? null) !== own) return;
      history.replaceState(null, '', hashFor(section.id, own, params));
    },
    current: () => seq === renderSeq,
  };
  try {
    const cleanup = await PAGES[section.id].render(ctx);
    if (seq === renderSeq) dispose = cleanup ?? null;
    else cleanup?.();
  } catch (err) {
    if (seq !== renderSeq) return;
    el.replaceChildren(
      h(
        'section',
        { class: 'card' },
        h('div', { class: 'empty' }, h('strong', null, 'This page could not be loaded.'), err.message),
      ),
    );
  }
}

async function signOut() {
  $('logout').disabled = true;
  dispose?.();
  try {
    await session.logout();
  } catch {
    // Signed out already, or the server is away: either way this browser forgets the page.
  }
  $('page').replaceChildren();
  $('shell').hidden = true;
  location.replace('/login?signed-out');
}

async function start() {
  try {
    const s = await session.current();
    user = s.user;
    setCsrfToken(s.csrfToken);
  } catch (err) {
    if (err.status === 401) return location.replace('/login');
    document.body.replaceChildren(
      h(
        'main',
        { class: 'login-card' },
        h('h1', null, 'The console is unavailable'),
        h('p', null, err.message),
      ),
    );
    return;
  }
  api = apiFor(user);
  if (api.operator) tenants = await api.tenants();
  $('who').replaceChildren(
    h('strong', null, user.username),
    ROLE_LABEL[user.role] ?? user.role,
    user.tenantId ? ` · ${user.tenantId}` : '',
  );
  $('logout').addEventListener('click', signOut);
  $('tenant-picker').addEventListener('change', (e) => {
    const parsed = parseHash(location.hash);
    location.hash = hashFor(parsed.section ?? 'telemetry', e.target.value || null);
  });
  $('shell').hidden = false;
  window.addEventListener('hashchange', route);
  await route();
}

// A page restored from the back/forward cache is re-checked: after sign-out it must show nothing.
window.addEventListener('pageshow', (e) => {
  if (!e.persisted) return;
  $('shell').hidden = true;
  session.current().then(
    () => {
      $('shell').hidden = false;
    },
    () => location.replace('/login'),
  );
});

start();
