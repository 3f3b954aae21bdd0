package io.fluxgate.changes.delivery;

import java.util.LinkedHashSet;
import java.util.Set;

import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Position;

/**
 * Whether a subscribe request can be taken, for the WebSocket and the SSE transport alike: a known
 * channel, a filter that compiles within the session's budget, known columns, a cursor of ours and
 * options that go together. Nothing is changed; the refusal's words are the error frame's.
 */
public final class SubscribeCheck {

    /** Filter conditions, and like conditions, one session may hold over all its subscriptions. */
    public static final int MAX_SESSION_CONDITIONS = 200;
    static final int MAX_SESSION_LIKES = 10;

    sealed interface Result {
    }

    /** @param cursor the position to resume after; null when the request does not resume */
    record Accepted(Subscription subscription, Position cursor) implements Result {
    }

    /** @param detail null when the error says it all */
    public record Refused(String error, String detail) implements Result {
    }

    private SubscribeCheck() {
    }

    /**
     * @param state the session's subscriptions (its budget counts theirs); null for a request
     *        checked on its own, before any session
     */
    public static Result check(ClientMessage.Subscribe request, SessionState state, int maxSubscriptions) {
        String channel = request.channel();
        if (!Channels.ALL.contains(channel)) {
            return new Refused("Unknown channel", null);
        }
        String id = request.id() == null ? channel : request.id();
        int held = state == null ? 0 : state.size();
        if ((state == null || state.subscription(id) == null) && held >= maxSubscriptions) {
            return new Refused("Too many subscriptions", "A session holds at most " + maxSubscriptions + " subscriptions");
        }
        RowFilter filter = null;
        if (request.filter() != null) {
            try {
                filter = RowFilter.compile(request.filter(), Channels.fields(channel));
            } catch (RowFilter.Invalid invalid) {
                return new Refused("Invalid filter", invalid.getMessage());
            }
            String overBudget = overBudget(state, id, filter);
            if (overBudget != null) {
                return new Refused("Invalid filter", overBudget);
            }
        }
        Set<String> columns = null;
        if (request.columns() != null) {
            columns = new LinkedHashSet<>();
            columns.add("id");
            for (String column : request.columns()) {
                if (!Channels.fields(channel).contains(column)) {
                    return new Refused("Invalid columns", "Unknown field '" + column + "'");
                }
                columns.add(column);
            }
            columns = Set.copyOf(columns);
        }
        if (request.snapshot() && request.resumeFrom() != null) {
            return new Refused("Invalid subscription", "snapshot cannot be combined with resumeFrom");
        }
        if (request.snapshot() && !ChangeSnapshots.covers(channel)) {
            return new Refused("Invalid subscription", "Snapshots are taken of database channels only");
        }
        Position cursor = null;
        if (request.resumeFrom() != null) {
            cursor = Position.fromCursor(request.resumeFrom());
            if (cursor == null) {
                return new Refused("Invalid cursor", null);
            }
        }
        return new Accepted(new Subscription(id, request.id() != null, channel, filter, columns), cursor);
    }

    /**
     * Why {@code filter}, replacing subscription {@code id}, would take the session past its filter
     * budget (each event is tested against every filter of its channel); null when it fits.
     */
    private static String overBudget(SessionState state, String id, RowFilter filter) {
        int conditions = filter.conditions();
        int likes = filter.likes();
        if (state != null) {
            for (Subscription other : state.subscriptions()) {
                if (other.filter() != null && !other.id().equals(id)) {
                    conditions += other.filter().conditions();
                    likes += other.filter().likes();
                }
            }
        }
        if (conditions > MAX_SESSION_CONDITIONS) {
            return "A session's filters hold at most " + MAX_SESSION_CONDITIONS + " conditions in all";
        }
        return likes > MAX_SESSION_LIKES ? "A session's filters hold at most " + MAX_SESSION_LIKES + " 'like' conditions in all"
                : null;
    }
}
