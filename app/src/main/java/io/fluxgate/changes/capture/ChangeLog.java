package io.fluxgate.changes.capture;

import java.util.List;

import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.Position;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The change log as sessions read it: events after a position, in commit order, and its bounds.
 * {@link ChangeLogReader} reads it from PostgreSQL.
 */
public interface ChangeLog {

    /**
     * What a reader asks for, applied where the log is read so nothing a reader may not see is read
     * at all: every event of {@code channels}, or, when {@code userId} is set, the events related to
     * that user on {@code relatedChannels} (on any channel when that is null). Both null: everything.
     */
    record Filter(List<String> channels, Long userId, List<String> relatedChannels, Position upTo) {

        public static final Filter EVERYTHING = new Filter(null, null, null, null);

        /** One channel in full, up to a position. */
        public static Filter channel(String channel, Position upTo) {
            return new Filter(List.of(channel), null, null, upTo);
        }

        /** Only the events of one channel related to one user, up to a position. */
        public static Filter relatedOn(String channel, long userId, Position upTo) {
            return new Filter(List.of(), userId, List.of(channel), upTo);
        }

        /** Whether {@code event} is one this filter asks for (what a read applies, for readers in memory). */
        public boolean accepts(ChangeEvent event) {
            if (upTo != null && event.position().isAfter(upTo)) {
                return false;
            }
            if (channels == null && userId == null) {
                return true;
            }
            boolean ofChannel = channels != null && channels.contains(event.channel());
            boolean related = userId != null && event.isRelatedTo(userId)
                    && (relatedChannels == null || relatedChannels.contains(event.channel()));
            return ofChannel || related;
        }
    }

    /** Every matching event after {@code from}, in commit order, at the consumer's pace. */
    Flux<ChangeEvent> after(Position from, Filter filter);

    /** The newest position in the log, or the origin when it is empty. */
    Mono<Position> head();

    /** Commits at or below this sequence have been pruned. */
    Mono<Long> prunedThrough();
}
