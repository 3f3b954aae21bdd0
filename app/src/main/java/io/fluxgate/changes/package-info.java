/**
 * The change stream: triggers write every row change to {@code change_log}; one LISTEN connection per
 * replica wakes up on NOTIFY and reads the log past its position into a hot hub; each WebSocket
 * session filters the hub, buffers within a bound, and falls back to reading the log itself when it
 * falls behind or resumes from a cursor.
 */
package io.fluxgate.changes;
