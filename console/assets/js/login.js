import { session } from './api.js';

const form = document.getElementById('login-form');
const error = document.getElementById('login-error');

if (new URLSearchParams(location.search).has('signed-out'))
  document.getElementById('login-note').hidden = false;

const showError = (err) => {
  error.textContent =
    err.status === 401 || err.status === 400
      ? 'Username or password is not right.'
      : err.status === 429
        ? 'Too many attempts. Wait a minute and try again.'
        : `Sign-in failed: ${err.message}`;
  error.hidden = false;
};

// A one-time sign-in link (`/login#code=…`, printed by `skjold start`): used once, then gone from the address bar.
const code = new URLSearchParams(location.hash.slice(1)).get('code');
if (code) {
  history.replaceState(null, '', location.pathname);
  session.loginWithCode(code).then(
    () => location.assign('/'),
    (err) => {
      showError(err);
      if (err.status === 401) error.textContent = 'This sign-in link was used already or has expired.';
    },
  );
}
// No "already signed in?" probe here: an unauthenticated probe counts as a failed authentication (api/guard.ts).

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  error.hidden = true;
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    await session.login(form.username.value.trim(), form.password.value);
    location.assign('/');
  } catch (err) {
    showError(err);
    form.password.value = '';
    form.password.focus();
  } finally {
    button.disabled = false;
  }
});
