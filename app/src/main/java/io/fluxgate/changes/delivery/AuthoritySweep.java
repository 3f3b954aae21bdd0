package io.fluxgate.changes.delivery;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import io.fluxgate.security.Caller;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * One check, for every open session at once, of whether its token still holds: expired tokens end
 * their sessions with 4001, revoked ones with 4003. Sessions sharing a token are checked once. One
 * sweep for all, rather than a timer per session, because idle sessions are what a replica holds
 * most of: each would otherwise pay for its own timer and ask the same question every second.
 */
public final class AuthoritySweep {

    private final Authority authority;
    private final Set<ChangeSession> open = ConcurrentHashMap.newKeySet();

    AuthoritySweep(Authority authority) {
        this.authority = authority;
    }

    /**
     * {@code session}'s frames, with the session checked by every sweep until they end; then
     * {@code ended} runs.
     */
    Flux<Outbound> track(ChangeSession session, Flux<Outbound> frames, Runnable ended) {
        return Flux.defer(() -> {
            open.add(session);
            return frames.doFinally(signal -> {
                open.remove(session);
                ended.run();
            });
        });
    }

    Collection<ChangeSession> open() {
        return Collections.unmodifiableSet(open);
    }

    /** Ends every open session with {@code close} (a shutdown). */
    void endAll(Outbound.Close close) {
        open.forEach(session -> session.end(close));
    }

    /** Checks every open session; a failure to learn a token's standing leaves its sessions open. */
    Mono<Void> sweep() {
        Instant now = Instant.now();
        Map<Caller, List<ChangeSession>> byCaller = new HashMap<>();
        for (ChangeSession session : open) {
            Caller caller = session.caller();
            if (caller.isExpiredAt(now)) {
                session.end(ChangeSession.TOKEN_EXPIRED);
            } else {
                byCaller.computeIfAbsent(caller, c -> new ArrayList<>()).add(session);
            }
        }
        return Flux.fromIterable(byCaller.entrySet())
                .flatMap(entry -> authority.holds(entry.getKey())
                        .filter(holds -> !holds)
                        // A session whose token was swapped meanwhile is judged on its new one next time.
                        .doOnNext(revoked -> entry.getValue().forEach(
                                session -> session.endIf(entry.getKey(), ChangeSession.ACCESS_REVOKED)))
                        .onErrorResume(unknown -> Mono.empty()), 16)
                .then();
    }
}
