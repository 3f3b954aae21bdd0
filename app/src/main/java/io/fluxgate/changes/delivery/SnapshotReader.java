package io.fluxgate.changes.delivery;

import java.util.Set;

import io.fluxgate.security.Caller;
import reactor.core.publisher.Flux;

/** Where a subscription's snapshot is read: {@link ChangeSnapshots}, from one database snapshot. */
public interface SnapshotReader {

    /**
     * Pages of the rows of {@code channel} that {@code caller} may see and that pass {@code filter},
     * cut to {@code columns}, then the position they reflect; or why it was refused.
     */
    Flux<ChangeSnapshots.Piece> read(String channel, Caller caller, RowFilter filter, Set<String> columns);
}
