package io.fluxgate.changes.hub;

import reactor.core.publisher.Flux;

/**
 * A channel whose changes come from outside the PostgreSQL change log (MongoDB's change stream for
 * {@code profile_changes}). Its events are live only: they carry no cursor, so a session that falls
 * behind on such a channel, or asks to resume it, is told {@code resync_required}.
 */
public interface LiveChangeSource {

    String channel();

    /** Hot: every event from now on, built by {@link ChangeFrames#live}, for every subscriber. */
    Flux<ChangeEvent> events();
}
