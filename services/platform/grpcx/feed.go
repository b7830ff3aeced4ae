package grpcx

import (
	"strconv"

	"google.golang.org/grpc/metadata"
)

// FeedHeadHeader is the response header WatchArticles opens its stream
// with: the feed's head revision when the stream started. A follower that
// has applied every change up to it has caught up, exactly, however slowly
// the backlog arrives.
const FeedHeadHeader = "buzhou-feed-head"

// FeedHeadMD is the header carrying head.
func FeedHeadMD(head int64) metadata.MD {
	return metadata.Pairs(FeedHeadHeader, strconv.FormatInt(head, 10))
}

// FeedHead reads the head revision from a stream's header; false when it is
// missing or not a revision (an article service from before the header).
func FeedHead(md metadata.MD) (int64, bool) {
	v := md.Get(FeedHeadHeader)
	if len(v) != 1 {
		return 0, false
	}
	head, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil || head < 0 {
		return 0, false
	}
	return head, true
}
