// Log in (the server sets an HttpOnly session cookie and answers the CSRF token the page sends on changes).

import * as client from './client.js';

export function bindLogin(form, onLoggedIn, setStatus) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      const answer = await client.login(String(data.get('username')), String(data.get('password')));
      client.setCsrf(answer.csrf_token);
      form.reset();
      await onLoggedIn(answer.user);
    } catch (error) {
      setStatus(error.status === 401 ? 'Wrong user name or password.' : String(error.message), true);
    }
  });
}
