// Compiled (never run) by test/package.test.mjs: the declarations describe what applications write.
import { createClient, FluxgateError, type ChangeEvent, type Frame } from '../../fluxgate.js';

interface Post { id: number; authorId: number; title: string }

const client = createClient({ url: 'http://localhost:8080', token: async () => 'jwt', transport: 'auto', backoff: { maxMs: 5000 } });
const stop: () => void = client.onStatus((status) => console.log(status.toUpperCase()));
client.onError((error: FluxgateError) => { if (error.fatal && error.status === 401) stop(); });
client.onRelated((event: ChangeEvent) => console.log(event.table, event.cursor));
const sub = client.subscribe<Post>('post_changes', { id: 'mine', filter: { authorId: { eq: 5 } }, columns: ['title'] },
  (frame: Frame<Post>) => {
    if (frame.type === 'database_change') console.log(frame.data.title.length, frame.operation);
    else if (frame.type === 'snapshot') console.log(frame.data.map((row) => row.id));
  });
const plain = client.subscribe('user_changes', (frame) => console.log(frame.type));
const leaving = new AbortController();
client.subscribe('account_changes', { signal: leaving.signal }, () => {});
leaving.abort();
void sub.ready.then((live) => console.log(live.cursor, live.status));
plain.unsubscribe();
console.log(client.transport === 'sse' || client.status === 'open');
client.close();
