package io.fluxgate.changes;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

import com.fasterxml.jackson.annotation.JsonValue;
import io.fluxgate.security.Caller;
import io.fluxgate.web.ApiException;
import reactor.core.publisher.Mono;

import org.springframework.stereotype.Component;

/**
 * What an operator asks of the change stream on this replica: which sessions are open and how far
 * behind they are, and why a user did or did not get one logged change. Admin-only (see the
 * security rules). Judgements follow the delivery rules of {@code ChangeSession.frameFor}.
 */
@Component
class ChangeInspector {

    /** Sessions answered at most, so the answer stays small whatever the replica holds. */
    static final int MAX_SESSIONS = 500;
    /**
     * Clients choose their filters (up to a 64 KiB frame each, 50 per session): what the inspector
     * repeats of one is cut to this many characters.
     */
    static final int MAX_FILTER_TEXT = 256;

    private final ChangeSessions sessions;
    private final ChangeLogReader log;

    ChangeInspector(ChangeSessions sessions, ChangeLogReader log) {
        this.sessions = sessions;
        this.log = log;
    }

    record SessionView(String id, long userId, String transport, List<SubscriptionView> subscriptions,
            int bufferedEvents, boolean replaying, long lagMs, String lastCursor, Instant connectedAt) {
    }

    /** @param filter the subscription's filter as JSON text, cut to {@link #MAX_FILTER_TEXT} characters (ending "…") */
    record SubscriptionView(String id, String channel, String filter, List<String> columns) {
    }

    /** The sessions answered, and how many matched before the limit. */
    record Sessions(List<SessionView> sessions, int total) {
    }

    enum Outcome {
        DELIVERED, NOT_SUBSCRIBED, NOT_ALLOWED, FILTERED_OUT, PAST_RETENTION;

        @JsonValue
        String wire() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The change itself, without its row: the verdict is the point. */
    record ChangeSummary(String channel, String table, String operation, Instant committedAt) {
    }

    /**
     * @param sessionId the session judged
     * @param id the subscription judged; null for the related-events rule, which is the session's
     * @param condition the filter condition the row failed, as JSON; null unless filtered out
     */
    record Verdict(String sessionId, String id, String channel, Outcome outcome, String reason, String condition) {
    }

    record Explanation(String cursor, long userId, ChangeSummary change, Outcome outcome, String reason,
            List<Verdict> subscriptions) {
    }

    /** Open sessions, oldest first; only {@code userId}'s when it is set. Views are built for the answered ones only. */
    Sessions sessions(Long userId, int limit) {
        List<ChangeSession> matching = sessions.open().stream()
                .filter(session -> userId == null || session.caller().id() == userId)
                .sorted(Comparator.comparing(ChangeSession::connectedAt).thenComparingLong(ChangeSession::number))
                .toList();
        List<SessionView> views = matching.stream().limit(limit).map(ChangeSession::view).toList();
        return new Sessions(views, matching.size());
    }

    static String shown(String filterText) {
        return filterText.length() <= MAX_FILTER_TEXT ? filterText : filterText.substring(0, MAX_FILTER_TEXT - 1) + "…";
    }

    /**
     * Whether {@code userId}'s sessions on this replica, as subscribed now, would receive the change
     * at {@code position}, and if not why; per subscription, the rule or filter condition that decided.
     */
    Mono<Explanation> explain(Position position, long userId) {
        String cursor = position.toCursor();
        return log.at(position)
                .map(event -> judge(event, cursor, userId))
                .switchIfEmpty(Mono.defer(() -> log.prunedThrough().map(pruned -> {
                    if (pruned > 0 && position.commitSeq() <= pruned) {
                        return new Explanation(cursor, userId, null, Outcome.PAST_RETENTION,
                                "The change log no longer holds this change: it was pruned by retention", List.of());
                    }
                    throw ApiException.notFound("The change log holds no change at this cursor");
                })));
    }

    private Explanation judge(ChangeEvent event, String cursor, long userId) {
        List<Verdict> verdicts = new ArrayList<>();
        boolean anySession = false;
        for (ChangeSession session : sessions.open()) {
            if (session.caller().id() == userId) {
                anySession = true;
                verdicts.addAll(judge(session, event));
            }
        }
        ChangeSummary change = new ChangeSummary(event.channel(), event.table(), event.operation(), event.committedAt());
        if (!anySession) {
            return new Explanation(cursor, userId, change, Outcome.NOT_SUBSCRIBED,
                    "The user has no open change-stream session on this replica", List.of());
        }
        Outcome outcome = overall(verdicts);
        String reason = outcome == Outcome.NOT_SUBSCRIBED
                ? "None of the user's sessions subscribes to " + event.channel()
                : verdicts.stream().filter(verdict -> verdict.outcome() == outcome).findFirst().orElseThrow().reason();
        return new Explanation(cursor, userId, change, outcome, reason, verdicts);
    }

    /**
     * One verdict per subscription, and one for the related-events rule when it applies. A change
     * older than the session is judged all the same, and says so: the session gets it only by resuming.
     */
    private static List<Verdict> judge(ChangeSession session, ChangeEvent event) {
        Caller caller = session.caller();
        boolean visible = Channels.seesAll(event.channel(), caller.admin());
        List<Verdict> verdicts = new ArrayList<>();
        for (ChangeSession.Subscription subscription : session.subscriptionList()) {
            verdicts.add(judge(session.id(), subscription, event, visible));
        }
        if (event.isRelatedTo(caller.id())) {
            verdicts.add(new Verdict(session.id(), null, event.channel(), Outcome.DELIVERED,
                    "The change is related to the user, so each of its sessions gets it whole, unfiltered", null));
        }
        Position start = session.start();
        if (start == null || event.position().isAfter(start)) {
            return verdicts;
        }
        return verdicts.stream().map(verdict -> verdict.outcome() != Outcome.DELIVERED ? verdict
                : new Verdict(verdict.sessionId(), verdict.id(), verdict.channel(), verdict.outcome(), verdict.reason()
                        + "; it was committed before this session opened, which gets it only by resuming from an"
                        + " earlier cursor", verdict.condition())).toList();
    }

    private static Verdict judge(String sessionId, ChangeSession.Subscription subscription, ChangeEvent event,
            boolean visible) {
        String id = subscription.id();
        if (!subscription.channel().equals(event.channel())) {
            return new Verdict(sessionId, id, subscription.channel(), Outcome.NOT_SUBSCRIBED,
                    "Subscribed to " + subscription.channel() + ", not " + event.channel(), null);
        }
        if (!visible) {
            return new Verdict(sessionId, id, subscription.channel(), Outcome.NOT_ALLOWED,
                    "On " + event.channel() + " only admins see changes that are not related to them", null);
        }
        String failed = subscription.filter() == null ? null : subscription.filter().firstFailing(event.data());
        if (failed != null) {
            return new Verdict(sessionId, id, subscription.channel(), Outcome.FILTERED_OUT,
                    "A condition of the subscription's filter does not hold for this row (see condition)", shown(failed));
        }
        return new Verdict(sessionId, id, subscription.channel(), Outcome.DELIVERED,
                "The subscription matches the change", null);
    }

    /** Delivered when any rule delivers; else the most specific miss. */
    private static Outcome overall(List<Verdict> verdicts) {
        for (Outcome outcome : List.of(Outcome.DELIVERED, Outcome.FILTERED_OUT, Outcome.NOT_ALLOWED)) {
            if (verdicts.stream().anyMatch(verdict -> verdict.outcome() == outcome)) {
                return outcome;
            }
        }
        return Outcome.NOT_SUBSCRIBED;
    }
}
