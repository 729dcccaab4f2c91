// The wire types, as generated from openapi/openapi.json (npm run gen:api). Only names
// are given here: every shape comes from the server's own document.
import type { components } from './schema'

type S = components['schemas']

export type WarningTask = S['WarningTask']
export type PublicityTask = S['PublicityTask']
export type Task = WarningTask | PublicityTask
export type TaskKind = 'warning' | 'publicity'
export type VisitOut = S['VisitOut']
export type VisitEntry = S['VisitEntry']
export type RecordVisit = S['RecordVisit']
export type SetField = S['SetField']
export type Mutation = RecordVisit | SetField
export type MutationResult = S['MutationResult']
export type MutationProblem = S['MutationProblem']
export type PushRequest = S['PushRequest']
export type PushResponse = S['PushResponse']
export type PullResponse = S['PullResponse']
export type Upsert = S['Upsert']
export type Remove = S['Remove']
export type Position = S['Position']
export type Material = S['Material']
export type Problem = S['Problem']
export type LoginIn = S['LoginIn']
export type PasswordChangeIn = S['PasswordChangeIn']
export type TokenOut = S['TokenOut']
export type MeOut = S['MeOut']
export type Outcome = 'dissuaded' | 'already_lost' | 'not_reachable' | 'refused' | 'false_alarm'
export type ContactMethod = 'face_to_face' | 'phone'
