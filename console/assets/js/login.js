import { session } from './api.js';

const form = document.getElementById('login-form');
const error = document.getElementById('login-error');

// Already signed in: straight to the console.
session.current().then(
  () => location.replace('/'),
  () => {},
);

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  error.hidden = true;
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    await session.login(form.username.value.trim(), form.password.value);
    location.assign('/');
  } catch (err) {
    error.textContent =
      err.status === 401 || err.status === 400
        ? 'Username or password is not right.'
        : err.status === 429
          ? 'Too many attempts. Wait a minute and try again.'
          : `Sign-in failed: ${err.message}`;
    error.hidden = false;
    form.password.value = '';
    form.password.focus();
  } finally {
    button.disabled = false;
  }
});
