package io.fluxgate.changes;

import io.fluxgate.changes.delivery.RowFilter;
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
record Route(long relatedTo, Set<String> wholeChannels, Map<String, List<RowFilter.Equality>> equalities) {

    static final long NONE = Long.MIN_VALUE;
    static final Route NOTHING = new Route(NONE, Set.of(), Map.of());
    static final Route EVERYTHING = new Route(NONE, Channels.ALL, Map.of());

    boolean mayWant(ChangeEvent event) {
        if (relatedTo != NONE && event.isRelatedTo(relatedTo)) {
            return true;
        }
        if (wholeChannels.contains(event.channel())) {
            return true;
        }
        List<RowFilter.Equality> conditions = equalities.get(event.channel());
        if (conditions == null) {
            return false;
        }
        for (RowFilter.Equality condition : conditions) {
            if (condition.keys().contains(RowFilter.key(event.data().get(condition.field())))) {
                return true;
            }
        }
        return false;
    }
}
