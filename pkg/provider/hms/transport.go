package hms

import "github.com/pushfleet/pushfleet/pkg/events"

// Platform is Huawei Push Kit's platform name: events.HMS.
const Platform = events.HMS

// platform labels metrics.
const platform = string(Platform)
