package io.fluxgate.changes;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.util.unit.DataSize;

/**
 * Change stream settings ({@code fluxgate.changes.*}).
 *
 * @param sessionBuffer live events a change-stream session may hold for a slow client before it switches
 *        to reading the change log itself
 * @param replayBatch rows per change-log read
 * @param hubHistory recent events kept in memory, so a session a little behind catches up without a query
 * @param pingInterval a WebSocket ping goes to every client this often; no pong by the next one closes it
 * @param pollInterval the listener also reads the log this often, in case a wake-up is lost
 * @param reconnectMinBackoff first wait before the listener reconnects
 * @param reconnectMaxBackoff longest wait between reconnect attempts
 * @param retention change-log rows older than this are pruned
 * @param retentionMaxCommits at most this many committed transactions are kept in the log
 * @param pruneInterval how often the pruning job runs
 * @param maxSessionsPerUser open change-stream sessions one user may hold on this replica; past it
 *        the upgrade answers 429
 * @param maxClientFramesPerSecond frames a client may send per second, on average; past it (and the
 *        burst) the session is closed with 1008
 * @param clientFrameBurst frames a client may send at once before the rate applies
 * @param maxSubscriptionsPerSession subscriptions one session may hold; past it an error frame
 * @param snapshotMaxRows rows a snapshot may cover (those the caller may see, before its filter);
 *        past it the snapshot is refused with an error frame
 * @param maxConcurrentSnapshots snapshots this replica reads at once (each holds an analytics-pool
 *        connection); past it a snapshot is refused with an error frame
 * @param snapshotTimeout the longest a snapshot may take, its client's reading included
 * @param maxConcurrentSnapshotsPerUser snapshots one user reads at once on this replica (at most
 *        {@code maxConcurrentSnapshots}): no user can take every slot
 * @param snapshotQueueTimeout a snapshot that finds no slot free waits this long for one, then is refused
 * @param hubHistoryBytes the recent events kept in memory ({@code hubHistory}) weigh at most this much
 *        (each event counted at an estimate of its heap size, see {@link ChangeEvent#weight()})
 * @param sessionBufferBytes a session's waiting live events ({@code sessionBuffer}) weigh at most this much
 * @param sessionBuffersBytes all sessions' waiting live events on this replica weigh at most this much;
 *        a session whose next event would pass it catches up later instead
 * @param replayBatchBytes one read of the log, of the recent events or of a snapshot page weighs at most
 *        this much (always at least one row)
 */
@ConfigurationProperties("fluxgate.changes")
public record ChangeStreamProperties(
        int sessionBuffer,
        int replayBatch,
        int hubHistory,
        Duration pingInterval,
        Duration pollInterval,
        Duration reconnectMinBackoff,
        Duration reconnectMaxBackoff,
        Duration retention,
        long retentionMaxCommits,
        Duration pruneInterval,
        int maxSessionsPerUser,
        int maxClientFramesPerSecond,
        int clientFrameBurst,
        int maxSubscriptionsPerSession,
        long snapshotMaxRows,
        int maxConcurrentSnapshots,
        Duration snapshotTimeout,
        int maxConcurrentSnapshotsPerUser,
        Duration snapshotQueueTimeout,
        DataSize hubHistoryBytes,
        DataSize sessionBufferBytes,
        DataSize sessionBuffersBytes,
        DataSize replayBatchBytes) {
}
