package io.fluxgate.changes.delivery;

import java.util.List;
import java.util.Set;

import tools.jackson.databind.node.ObjectNode;

/**
 * One subscription of a session, as the client asked for it. Where it starts, and what it has been
 * sent, is the session's {@link Ledger}'s business.
 *
 * @param named whether the client chose the id (frames then name the subscriptions they match)
 * @param filter null: every event of the channel the caller may see
 * @param columns the fields sent, the primary key included; null: all
 */
public record Subscription(String id, boolean named, String channel, RowFilter filter, Set<String> columns) {

    /** The ids a frame for it names: its own when the client chose it, else none. */
    public List<String> ids() {
        return named ? List.of(id) : List.of();
    }

    public boolean passes(ObjectNode row) {
        return filter == null || filter.test(row);
    }
}
