package io.fluxgate.security;

import reactor.core.publisher.Mono;

/** Where the security layer reads what decides whether a user's tokens still hold; users provide it. */
public interface UserStandings {

    /** The user's standing now, or empty when the user no longer exists. */
    Mono<Standing> find(long userId);

    /**
     * @param tokenVersion tokens issued at an older version are revoked
     * @param suspended a suspended user's tokens do not hold, whatever their version
     */
    record Standing(long tokenVersion, boolean suspended) {
    }
}
