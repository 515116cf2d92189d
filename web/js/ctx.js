// ctx.js - the page's shared state: the connection, who is signed in, and a
// few app-wide helpers the views call. Filled in by app.js.
export const ctx = {
  conn: null,
  me: null, // the ok reply of hello/join: {actor, role, name, opgaven, session?}
  announce: (_text) => {},
  navigate: (_hash) => {},
  signOut: (_messageKey) => {}, // leave, and say why on the sign-in page
};

/** The text to show for an error reply: the code in words, and the
 * server's message when it adds something. */
import { t } from './i18n.js';
export function errorText(reply) {
  const base = t('err.' + reply.code);
  if (!reply.message || ['offline', 'timeout'].includes(reply.code)) return base;
  return `${base}: ${reply.message}`;
}
