package io.fluxgate.changes.transport;

import java.util.ArrayList;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;

/**
 * What the sockets of one event loop share (touched on the loop only): the frame encoded in this
 * turn, and the flush when the turn's task is done. The encoding lasts until that flush: an
 * event reaches all of a loop's sessions in one task, and a pooled buffer is not kept idle.
 */
final class LoopBatch implements Runnable {

    private final EventLoop loop;
    private List<SocketWriter> dirty = new ArrayList<>();
    /** The list flushed last, reused for the next turn: no list allocated per change. */
    private List<SocketWriter> spare = new ArrayList<>();
    private boolean scheduled;
    private byte[] lastJson;
    private ByteBuf lastEncoded;

    LoopBatch(EventLoop loop) {
        this.loop = loop;
    }

    /**
     * {@code json} as a WebSocket text frame, for one write (which releases it). The frame an
     * event's sessions share is encoded once per loop and written to each of them.
     */
    ByteBuf encoded(byte[] json, ByteBufAllocator allocator) {
        if (json != lastJson) {
            forgetEncoded();
            lastEncoded = textFrame(json, allocator);
            lastJson = json;
        }
        return lastEncoded.retainedDuplicate();
    }

    private void forgetEncoded() {
        if (lastEncoded != null) {
            lastEncoded.release();
            lastEncoded = null;
            lastJson = null;
        }
    }

    void add(SocketWriter writer) {
        dirty.add(writer);
        if (!scheduled) {
            scheduled = true;
            loop.execute(this);
        }
    }

    /** Every encoding is followed by a write, so by this run: it ends the turn. */
    @Override
    public void run() {
        scheduled = false;
        forgetEncoded();
        // A flush may complete writes whose listeners write again: they go into the next batch.
        List<SocketWriter> batch = dirty;
        dirty = spare;
        for (SocketWriter writer : batch) {
            writer.flushBatched();
        }
        batch.clear();
        spare = batch;
    }

    /** A final, unmasked WebSocket text frame (RFC 6455 5.2), as a server sends it. */
    static ByteBuf textFrame(byte[] payload, ByteBufAllocator allocator) {
        int length = payload.length;
        int header = length <= 125 ? 2 : length <= 0xFFFF ? 4 : 10;
        ByteBuf frame = allocator.directBuffer(header + length);
        frame.writeByte(0x81);
        if (length <= 125) {
            frame.writeByte(length);
        } else if (length <= 0xFFFF) {
            frame.writeByte(126);
            frame.writeShort(length);
        } else {
            frame.writeByte(127);
            frame.writeLong(length);
        }
        return frame.writeBytes(payload);
    }
}
