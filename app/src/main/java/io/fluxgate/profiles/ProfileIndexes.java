package io.fluxgate.profiles;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.bson.Document;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.util.retry.Retry;

import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.data.domain.Sort;
import org.springframework.data.mongodb.core.ReactiveMongoTemplate;
import org.springframework.data.mongodb.core.geo.GeoJsonPoint;
import org.springframework.data.mongodb.core.index.GeoSpatialIndexType;
import org.springframework.data.mongodb.core.index.GeospatialIndex;
import org.springframework.data.mongodb.core.index.Index;
import org.springframework.data.mongodb.core.index.TextIndexDefinition;
import org.springframework.data.mongodb.core.query.Criteria;
import org.springframework.data.mongodb.core.query.Query;
import org.springframework.data.mongodb.core.query.TextCriteria;
import org.springframework.stereotype.Component;

/**
 * Creates the profile indexes once the application is up, in the background, retrying while MongoDB
 * is unreachable so start-up never waits on it. Learns along the way whether the server has text and
 * 2dsphere indexes: where it has not (the in-process test server), search falls back to escaped
 * regexes and geo queries answer 501, rather than pretending.
 */
@Component
class ProfileIndexes {

    private static final Logger log = LoggerFactory.getLogger(ProfileIndexes.class);

    private final ReactiveMongoTemplate mongo;
    private volatile boolean textSearch;
    private volatile boolean geo;

    ProfileIndexes(ReactiveMongoTemplate mongo) {
        this.mongo = mongo;
    }

    @EventListener(ApplicationReadyEvent.class)
    void createInBackground() {
        ensure().retryWhen(Retry.backoff(Long.MAX_VALUE, Duration.ofSeconds(1)).maxBackoff(Duration.ofMinutes(1))
                        .doBeforeRetry(signal -> log.warn("MongoDB indexes not created yet ({}); retrying",
                                signal.failure().toString())))
                .subscribe();
    }

    /** Creates what the server supports; fails only when the server cannot be reached at all. */
    Mono<Void> ensure() {
        var ops = mongo.indexOps(Profile.class);
        Mono<String> unique = ops.createIndex(new Index("email", Sort.Direction.ASC).unique().named("email_unique"));
        Mono<String> byActivity = ops.createIndex(new Index("status", Sort.Direction.ASC)
                .on("lastActive", Sort.Direction.DESC).named("status_lastActive"));
        // Some servers accept these index definitions and cannot use them, so each feature is first
        // tried for real on a scratch collection holding one document.
        Mono<Boolean> text = probe(TextIndexDefinition.builder().onField("name").named("probe_text").build(),
                Query.query(new TextCriteria().matchingAny("probe")))
                .then(ops.createIndex(TextIndexDefinition.builder().onField("name").onField("profile.bio")
                        .named("name_bio_text").build()))
                .thenReturn(true)
                .onErrorResume(e -> unsupported("text", e));
        Mono<Boolean> twoDSphere = probe(new GeospatialIndex("location").typed(GeoSpatialIndexType.GEO_2DSPHERE),
                Query.query(Criteria.where("location").nearSphere(new GeoJsonPoint(0, 0)).maxDistance(1000)))
                .then(ops.createIndex(new GeospatialIndex("location")
                        .typed(GeoSpatialIndexType.GEO_2DSPHERE).named("location_2dsphere")))
                .thenReturn(true)
                .onErrorResume(e -> unsupported("2dsphere", e));
        return unique.then(byActivity)
                .then(Mono.zip(text, twoDSphere))
                .doOnNext(supported -> {
                    textSearch = supported.getT1();
                    geo = supported.getT2();
                    log.info("MongoDB profile indexes ready (text search: {}, geo: {})", textSearch, geo);
                })
                .then();
    }

    /** Builds {@code index} on a scratch collection with one document and runs {@code query} on it. */
    private Mono<Void> probe(org.springframework.data.mongodb.core.index.IndexDefinition index, Query query) {
        String scratch = "capability_probe_" + Long.toHexString(System.nanoTime());
        return mongo.insert(new Document(Map.of("name", "probe", "location",
                        new Document(Map.of("type", "Point", "coordinates", List.of(0.0, 0.0))))), scratch)
                .then(mongo.indexOps(scratch).createIndex(index))
                .then(mongo.find(query, Document.class, scratch).then())
                .doFinally(signal -> mongo.dropCollection(scratch).onErrorResume(e -> Mono.empty()).subscribe());
    }

    private static Mono<Boolean> unsupported(String kind, Throwable error) {
        if (error instanceof org.springframework.dao.DataAccessResourceFailureException) {
            return Mono.error(error); // unreachable: retry the whole set later
        }
        log.warn("This MongoDB server cannot use a {} index ({}); the features that need it are off",
                kind, error.getMessage());
        return Mono.just(false);
    }

    boolean hasTextSearch() {
        return textSearch;
    }

    boolean hasGeo() {
        return geo;
    }
}
