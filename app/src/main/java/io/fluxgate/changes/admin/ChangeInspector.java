package io.fluxgate.changes.admin;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

import com.fasterxml.jackson.annotation.JsonValue;
import io.fluxgate.changes.capture.ChangeLogReader;
import io.fluxgate.changes.delivery.ChangeSession;
import io.fluxgate.changes.delivery.ChangeSessions;
import io.fluxgate.changes.delivery.DeliveryRule;
import io.fluxgate.changes.delivery.Ledger;
import io.fluxgate.changes.delivery.SessionState;
import io.fluxgate.changes.delivery.Subscription;
import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.security.Caller;
import io.fluxgate.web.ApiException;
import reactor.core.publisher.Mono;

import org.springframework.stereotype.Component;

/**
 * What an operator asks of the change stream on this replica: which sessions are open and how far
 * behind they are, and why a user did or did not get one logged change. Admin-only (see the
 * security rules). Judgements are the delivery rule's own ({@link DeliveryRule}), with each session's ledger.
 */
@Component
public class ChangeInspector {

    /** Sessions answered at most, so the answer stays small whatever the replica holds. */
    static final int MAX_SESSIONS = 500;
    /**
     * Clients choose their filters (up to a 64 KiB frame each, 50 per session): what the inspector
     * repeats of one is cut to this many characters.
     */
    public static final int MAX_FILTER_TEXT = 256;

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

        static SubscriptionView of(Subscription subscription) {
            return new SubscriptionView(subscription.id(), subscription.channel(),
                    subscription.filter() == null ? null : shown(subscription.filter().toString()),
                    subscription.columns() == null ? null : subscription.columns().stream().sorted().toList());
        }
    }

    /** The sessions answered, and how many matched before the limit. */
    record Sessions(List<SessionView> sessions, int total) {
    }

    enum Outcome {
        DELIVERED, NOT_SUBSCRIBED, NOT_ALLOWED, FILTERED_OUT, BEFORE_START, PAST_RETENTION;

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
        List<SessionView> views = matching.stream().limit(limit).map(ChangeInspector::view).toList();
        return new Sessions(views, matching.size());
    }

    /** What the sessions view shows of one session; read from another thread, so a moment stale at worst. */
    private static SessionView view(ChangeSession session) {
        SessionState state = session.state();
        List<SubscriptionView> subscriptions = state == null ? List.of() : state.subscribed().stream()
                .map(subscribed -> SubscriptionView.of(subscribed.subscription()))
                .toList();
        Position last = state == null ? null : state.liveThrough();
        return new SessionView(session.id(), session.caller().id(), session.transport(), subscriptions,
                session.bufferedEvents(), session.replaying(), session.lagMs(), last == null ? null : last.toCursor(),
                session.connectedAt());
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
     * One verdict per subscription, and one for the related-events rule when it applies, by the
     * delivery rule itself (as the live pass would judge the change, with the session's ledger).
     */
    private static List<Verdict> judge(ChangeSession session, ChangeEvent event) {
        SessionState state = session.state();
        if (state == null) {
            return List.of();
        }
        Caller caller = state.caller();
        List<Verdict> verdicts = new ArrayList<>();
        boolean accounted = false;
        for (DeliveryRule.Subscribed subscribed : state.subscribed()) {
            DeliveryRule.Outcome outcome = DeliveryRule.judge(caller, subscribed, event, Ledger.Pass.LIVE);
            accounted |= outcome == DeliveryRule.Outcome.DELIVERED || outcome == DeliveryRule.Outcome.ALREADY_SENT;
            verdicts.add(verdict(session.id(), subscribed.subscription(), event, outcome));
        }
        if (!accounted) {
            Ledger.Range related = state.ledger().related(event.channel());
            DeliveryRule.Outcome outcome = DeliveryRule.judgeRelated(caller, related, event, Ledger.Pass.LIVE);
            if (outcome != DeliveryRule.Outcome.NOT_SUBSCRIBED) {
                verdicts.add(relatedVerdict(session.id(), event, outcome));
            }
        }
        return verdicts;
    }

    private static Verdict verdict(String sessionId, Subscription subscription, ChangeEvent event,
            DeliveryRule.Outcome outcome) {
        String id = subscription.id();
        String channel = subscription.channel();
        return switch (outcome) {
            case NOT_SUBSCRIBED -> new Verdict(sessionId, id, channel, Outcome.NOT_SUBSCRIBED,
                    "Subscribed to " + channel + ", not " + event.channel(), null);
            case NOT_ALLOWED -> new Verdict(sessionId, id, channel, Outcome.NOT_ALLOWED,
                    "On " + event.channel() + " only admins see changes that are not related to them", null);
            case FILTERED_OUT -> new Verdict(sessionId, id, channel, Outcome.FILTERED_OUT,
                    "A condition of the subscription's filter does not hold for this row (see condition)",
                    shown(subscription.filter().firstFailing(event.data())));
            case DELIVERED -> new Verdict(sessionId, id, channel, Outcome.DELIVERED,
                    "The subscription matches the change", null);
            case ALREADY_SENT -> new Verdict(sessionId, id, channel, Outcome.DELIVERED,
                    "The subscription matches the change, and the session has sent it already (or its snapshot"
                            + " reflects it)", null);
            case BEFORE_START -> new Verdict(sessionId, id, channel, Outcome.BEFORE_START,
                    "The subscription matches the change, but it was committed before the subscription started:"
                            + " only a resume from an earlier cursor gets it", null);
        };
    }

    private static Verdict relatedVerdict(String sessionId, ChangeEvent event, DeliveryRule.Outcome outcome) {
        if (outcome == DeliveryRule.Outcome.BEFORE_START) {
            return new Verdict(sessionId, null, event.channel(), Outcome.BEFORE_START, "The change is related to the"
                    + " user but was committed before this session opened: only a resume from an earlier cursor gets it",
                    null);
        }
        return new Verdict(sessionId, null, event.channel(), Outcome.DELIVERED,
                "The change is related to the user, so each of its sessions gets it whole, unfiltered", null);
    }

    /** Delivered when any rule delivers; else the most specific miss. */
    private static Outcome overall(List<Verdict> verdicts) {
        for (Outcome outcome : List.of(Outcome.DELIVERED, Outcome.BEFORE_START, Outcome.FILTERED_OUT,
                Outcome.NOT_ALLOWED)) {
            if (verdicts.stream().anyMatch(verdict -> verdict.outcome() == outcome)) {
                return outcome;
            }
        }
        return Outcome.NOT_SUBSCRIBED;
    }
}
