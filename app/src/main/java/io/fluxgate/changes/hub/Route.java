package io.fluxgate.changes.hub;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which events one session may want, in a form the hub indexes: so that an event is handed only to
 * the sessions that may want it, and a thousand sessions filtering one column on a thousand values
 * cost one lookup per event, not a thousand filter runs. It is a necessary condition, not the
 * session's full judgement: the session still applies its filters to what it is handed.
 *
 * @param relatedTo the session's user: events related to it are always wanted ({@link #NONE}: none)
 * @param wholeChannels channels of which every event may be wanted
 * @param equalities per channel, conditions of which an event must meet one to be wanted
 */
public record Route(long relatedTo, Set<String> wholeChannels, Map<String, List<Route.Equality>> equalities) {

    /**
     * A condition every row a subscription's filter accepts meets: {@code field} holds one of
     * {@code keys} (see {@link Values#key}). Lets the hub hand an event only to the sessions whose
     * equality it meets.
     */
    public record Equality(String field, Set<Object> keys) {
    }

    static final long NONE = Long.MIN_VALUE;
    public static final Route NOTHING = new Route(NONE, Set.of(), Map.of());
    static final Route EVERYTHING = new Route(NONE, Channels.ALL, Map.of());

    public boolean mayWant(ChangeEvent event) {
        if (relatedTo != NONE && event.isRelatedTo(relatedTo)) {
            return true;
        }
        if (wholeChannels.contains(event.channel())) {
            return true;
        }
        List<Route.Equality> conditions = equalities.get(event.channel());
        if (conditions == null) {
            return false;
        }
        for (Route.Equality condition : conditions) {
            if (condition.keys().contains(Values.key(event.data().get(condition.field())))) {
                return true;
            }
        }
        return false;
    }
}
