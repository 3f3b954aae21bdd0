package io.fluxgate.changes.transport;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.ChangeStreamProperties;
import io.fluxgate.changes.delivery.ChangeSessions;
import io.fluxgate.changes.delivery.ClientMessage;
import io.fluxgate.changes.delivery.Outbound;
import io.fluxgate.changes.delivery.SubscribeCheck;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.security.Caller;
import io.fluxgate.web.ApiException;
import io.fluxgate.web.FieldViolation;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.stereotype.Component;
import org.springframework.web.reactive.function.BodyInserters;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;

/**
 * {@code GET /api/changes/stream}: the change stream over Server-Sent Events, for clients that cannot
 * use WebSocket. The query string makes the subscriptions; the same session as on the WebSocket runs
 * behind it, so delivery rules, limits and revocation are the same. Each frame is one event named by
 * its type; change frames carry their cursor as the event id, so a reconnect with
 * {@code Last-Event-ID} resumes with no gap and no duplicate.
 */
@Component
public class ChangeEventStream {

    private static final Duration KEEP_ALIVE = Duration.ofSeconds(15);
    private static final Duration NOT_READY_TIMEOUT = Duration.ofSeconds(10);
    private static final int MAX_FILTER_LENGTH = 16 * 1024;
    /** The query parameter each of a subscribe check's refusals is about. */
    private static final Map<String, String> FIELDS = Map.of("Invalid filter", "filter", "Invalid columns", "columns",
            "Invalid subscription", "snapshot");

    private final ChangeSessions sessions;
    private final ChangeFrames frames;
    private final ChangeStreamMetrics metrics;
    private final ChangeStreamProperties properties;
    private final JsonMapper json;

    ChangeEventStream(ChangeSessions sessions, ChangeFrames frames, ChangeStreamMetrics metrics,
            ChangeStreamProperties properties, JsonMapper json) {
        this.sessions = sessions;
        this.frames = frames;
        this.metrics = metrics;
        this.properties = properties;
        this.json = json;
    }

    Mono<ServerResponse> stream(ServerRequest request) {
        return Caller.of(request).flatMap(caller -> {
            List<ClientMessage> subscribes = subscriptions(request);
            if (!sessions.hasRoomFor(caller)) {
                return tooMany();
            }
            return sessions.ready().timeout(NOT_READY_TIMEOUT)
                    .onErrorMap(TimeoutException.class, notReady -> ApiException.unavailable(
                            "The change stream is starting; try again shortly", Duration.ofSeconds(5)))
                    .then(Mono.defer(() -> {
                        // The stream has no client messages after the query string: it ends when the client goes.
                        Flux<ClientMessage> inbound = Flux.fromIterable(subscribes).concatWith(Flux.never());
                        Flux<Outbound> session = sessions.serve(caller, "sse",
                                ChangeStreamConfiguration.eventLoopOf(request.exchange().getRequest()), null, inbound);
                        Flux<ServerSentEvent<String>> events = session.map(this::toEvent);
                        Flux<ServerSentEvent<String>> keepAlive = Flux.interval(KEEP_ALIVE, KEEP_ALIVE)
                                .map(tick -> ServerSentEvent.<String>builder().comment("keep-alive").build());
                        return ServerResponse.ok()
                                .contentType(MediaType.TEXT_EVENT_STREAM)
                                .header("Cache-Control", "no-cache")
                                .header("X-Accel-Buffering", "no")
                                .body(BodyInserters.fromServerSentEvents(sessions.tracked(Flux.merge(events, keepAlive)
                                        .takeUntil(event -> "close".equals(event.event())))));
                    }));
        });
    }

    private ServerSentEvent<String> toEvent(Outbound out) {
        Outbound.Frame frame = out instanceof Outbound.Frame f ? f : frames.close((Outbound.Close) out);
        if (frame.committedAt() != null) {
            metrics.sent(frame.committedAt());
        }
        ServerSentEvent.Builder<String> event = ServerSentEvent.<String>builder()
                .event(frame.type())
                .data(new String(frame.json(), StandardCharsets.UTF_8));
        if (frame.cursor() != null) {
            event.id(frame.cursor());
        }
        return event.build();
    }

    /** The query string as subscribe messages; anything a client could not mean answers 400 before a session opens. */
    private List<ClientMessage> subscriptions(ServerRequest request) {
        List<String> channels = request.queryParams().getOrDefault("channel", List.of());
        List<FieldViolation> violations = new ArrayList<>();
        if (channels.isEmpty()) {
            violations.add(new FieldViolation("channel", "At least one channel is required"));
        } else if (channels.size() > properties.maxSubscriptionsPerSession()) {
            violations.add(new FieldViolation("channel",
                    "At most " + properties.maxSubscriptionsPerSession() + " channels"));
        } else if (channels.stream().anyMatch(channel -> !Channels.ALL.contains(channel))) {
            violations.add(new FieldViolation("channel", "Unknown channel"));
        } else if (channels.stream().distinct().count() != channels.size()) {
            violations.add(new FieldViolation("channel", "Each channel once"));
        }
        JsonNode filter = null;
        String filterText = request.queryParam("filter").orElse(null);
        if (filterText != null) {
            if (channels.size() != 1) {
                violations.add(new FieldViolation("filter", "A filter applies to exactly one channel"));
            } else if (filterText.length() > MAX_FILTER_LENGTH) {
                violations.add(new FieldViolation("filter", "At most " + MAX_FILTER_LENGTH + " characters"));
            } else {
                try {
                    filter = json.readTree(filterText);
                } catch (JacksonException notJson) {
                    violations.add(new FieldViolation("filter", "Not valid JSON"));
                }
            }
        }
        List<String> columns = request.queryParam("columns")
                .map(text -> Arrays.stream(text.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList())
                .orElse(null);
        if (columns != null && violations.isEmpty()) {
            for (String column : columns) {
                if (channels.stream().noneMatch(channel -> Channels.fields(channel).contains(column))) {
                    violations.add(new FieldViolation("columns", "Unknown field '" + column + "'"));
                    break;
                }
            }
        }
        boolean snapshot = request.queryParam("snapshot").map(Boolean::parseBoolean).orElse(false);
        String lastEventId = request.headers().firstHeader("Last-Event-ID");
        if (lastEventId != null && Position.fromCursor(lastEventId) == null) {
            violations.add(new FieldViolation("Last-Event-ID", "Not a cursor of this stream"));
        }
        List<ClientMessage> messages = new ArrayList<>();
        if (violations.isEmpty()) {
            for (String channel : channels) {
                List<String> own = columns == null ? null
                        : columns.stream().filter(Channels.fields(channel)::contains).toList();
                // A snapshot is only taken on a first connect; after a reconnect the stream resumes.
                ClientMessage.Subscribe subscribe = new ClientMessage.Subscribe(channel, null, null,
                        snapshot && lastEventId == null, filter, own);
                // The same checks as a WebSocket subscribe, answered before the stream opens.
                if (SubscribeCheck.check(subscribe, null, properties.maxSubscriptionsPerSession())
                        instanceof SubscribeCheck.Refused refused) {
                    violations.add(new FieldViolation(FIELDS.getOrDefault(refused.error(), "channel"),
                            refused.detail() == null ? refused.error() : refused.detail()));
                }
                messages.add(subscribe);
            }
        }
        if (!violations.isEmpty()) {
            throw ApiException.invalid(violations);
        }
        if (lastEventId != null) {
            // One resume for all channels, in commit order, so event ids only ever move forward.
            messages.add(new ClientMessage.Resume(lastEventId));
        }
        return messages;
    }

    private static Mono<ServerResponse> tooMany() {
        return Mono.error(ApiException.tooManyRequests("Too many open change-stream sessions for this user",
                Duration.ofSeconds(5)));
    }

}
