// Original file: proto/moc.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CancelJobRequest as _moc_v1_CancelJobRequest, CancelJobRequest__Output as _moc_v1_CancelJobRequest__Output } from '../../moc/v1/CancelJobRequest.js';
import type { CreateGoalRequest as _moc_v1_CreateGoalRequest, CreateGoalRequest__Output as _moc_v1_CreateGoalRequest__Output } from '../../moc/v1/CreateGoalRequest.js';
import type { Feedback as _moc_v1_Feedback, Feedback__Output as _moc_v1_Feedback__Output } from '../../moc/v1/Feedback.js';
import type { GetDevicesRequest as _moc_v1_GetDevicesRequest, GetDevicesRequest__Output as _moc_v1_GetDevicesRequest__Output } from '../../moc/v1/GetDevicesRequest.js';
import type { GetDevicesResponse as _moc_v1_GetDevicesResponse, GetDevicesResponse__Output as _moc_v1_GetDevicesResponse__Output } from '../../moc/v1/GetDevicesResponse.js';
import type { GetFleetRequest as _moc_v1_GetFleetRequest, GetFleetRequest__Output as _moc_v1_GetFleetRequest__Output } from '../../moc/v1/GetFleetRequest.js';
import type { GetFleetResponse as _moc_v1_GetFleetResponse, GetFleetResponse__Output as _moc_v1_GetFleetResponse__Output } from '../../moc/v1/GetFleetResponse.js';
import type { GetGoalRequest as _moc_v1_GetGoalRequest, GetGoalRequest__Output as _moc_v1_GetGoalRequest__Output } from '../../moc/v1/GetGoalRequest.js';
import type { GetJobRequest as _moc_v1_GetJobRequest, GetJobRequest__Output as _moc_v1_GetJobRequest__Output } from '../../moc/v1/GetJobRequest.js';
import type { GetModelRequest as _moc_v1_GetModelRequest, GetModelRequest__Output as _moc_v1_GetModelRequest__Output } from '../../moc/v1/GetModelRequest.js';
import type { Goal as _moc_v1_Goal, Goal__Output as _moc_v1_Goal__Output } from '../../moc/v1/Goal.js';
import type { InferChunk as _moc_v1_InferChunk, InferChunk__Output as _moc_v1_InferChunk__Output } from '../../moc/v1/InferChunk.js';
import type { InferRequest as _moc_v1_InferRequest, InferRequest__Output as _moc_v1_InferRequest__Output } from '../../moc/v1/InferRequest.js';
import type { InferResponse as _moc_v1_InferResponse, InferResponse__Output as _moc_v1_InferResponse__Output } from '../../moc/v1/InferResponse.js';
import type { Job as _moc_v1_Job, Job__Output as _moc_v1_Job__Output } from '../../moc/v1/Job.js';
import type { ListGoalsRequest as _moc_v1_ListGoalsRequest, ListGoalsRequest__Output as _moc_v1_ListGoalsRequest__Output } from '../../moc/v1/ListGoalsRequest.js';
import type { ListGoalsResponse as _moc_v1_ListGoalsResponse, ListGoalsResponse__Output as _moc_v1_ListGoalsResponse__Output } from '../../moc/v1/ListGoalsResponse.js';
import type { ListJobsRequest as _moc_v1_ListJobsRequest, ListJobsRequest__Output as _moc_v1_ListJobsRequest__Output } from '../../moc/v1/ListJobsRequest.js';
import type { ListJobsResponse as _moc_v1_ListJobsResponse, ListJobsResponse__Output as _moc_v1_ListJobsResponse__Output } from '../../moc/v1/ListJobsResponse.js';
import type { ListModelsRequest as _moc_v1_ListModelsRequest, ListModelsRequest__Output as _moc_v1_ListModelsRequest__Output } from '../../moc/v1/ListModelsRequest.js';
import type { ListModelsResponse as _moc_v1_ListModelsResponse, ListModelsResponse__Output as _moc_v1_ListModelsResponse__Output } from '../../moc/v1/ListModelsResponse.js';
import type { LoadModelRequest as _moc_v1_LoadModelRequest, LoadModelRequest__Output as _moc_v1_LoadModelRequest__Output } from '../../moc/v1/LoadModelRequest.js';
import type { ModelInfo as _moc_v1_ModelInfo, ModelInfo__Output as _moc_v1_ModelInfo__Output } from '../../moc/v1/ModelInfo.js';
import type { PinModelRequest as _moc_v1_PinModelRequest, PinModelRequest__Output as _moc_v1_PinModelRequest__Output } from '../../moc/v1/PinModelRequest.js';
import type { RecordFeedbackRequest as _moc_v1_RecordFeedbackRequest, RecordFeedbackRequest__Output as _moc_v1_RecordFeedbackRequest__Output } from '../../moc/v1/RecordFeedbackRequest.js';
import type { RegisterModelRequest as _moc_v1_RegisterModelRequest, RegisterModelRequest__Output as _moc_v1_RegisterModelRequest__Output } from '../../moc/v1/RegisterModelRequest.js';
import type { SetAliasRequest as _moc_v1_SetAliasRequest, SetAliasRequest__Output as _moc_v1_SetAliasRequest__Output } from '../../moc/v1/SetAliasRequest.js';
import type { SetAliasResponse as _moc_v1_SetAliasResponse, SetAliasResponse__Output as _moc_v1_SetAliasResponse__Output } from '../../moc/v1/SetAliasResponse.js';
import type { SubmitJobRequest as _moc_v1_SubmitJobRequest, SubmitJobRequest__Output as _moc_v1_SubmitJobRequest__Output } from '../../moc/v1/SubmitJobRequest.js';
import type { UnloadModelRequest as _moc_v1_UnloadModelRequest, UnloadModelRequest__Output as _moc_v1_UnloadModelRequest__Output } from '../../moc/v1/UnloadModelRequest.js';
import type { UnloadModelResponse as _moc_v1_UnloadModelResponse, UnloadModelResponse__Output as _moc_v1_UnloadModelResponse__Output } from '../../moc/v1/UnloadModelResponse.js';
import type { UpdateGoalRequest as _moc_v1_UpdateGoalRequest, UpdateGoalRequest__Output as _moc_v1_UpdateGoalRequest__Output } from '../../moc/v1/UpdateGoalRequest.js';
import type { WatchModelsRequest as _moc_v1_WatchModelsRequest, WatchModelsRequest__Output as _moc_v1_WatchModelsRequest__Output } from '../../moc/v1/WatchModelsRequest.js';

export interface ModelOpsClient extends grpc.Client {
  CancelGoal(argument: _moc_v1_GetGoalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  CancelGoal(argument: _moc_v1_GetGoalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  CancelGoal(argument: _moc_v1_GetGoalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  CancelGoal(argument: _moc_v1_GetGoalRequest, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  cancelGoal(argument: _moc_v1_GetGoalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  cancelGoal(argument: _moc_v1_GetGoalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  cancelGoal(argument: _moc_v1_GetGoalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  cancelGoal(argument: _moc_v1_GetGoalRequest, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  
  /**
   * Queued: cancelled at once. Running: stopped (a trainer gets SIGTERM, then SIGKILL); cancel_requested until it ended.
   */
  CancelJob(argument: _moc_v1_CancelJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  CancelJob(argument: _moc_v1_CancelJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  CancelJob(argument: _moc_v1_CancelJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  CancelJob(argument: _moc_v1_CancelJobRequest, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  /**
   * Queued: cancelled at once. Running: stopped (a trainer gets SIGTERM, then SIGKILL); cancel_requested until it ended.
   */
  cancelJob(argument: _moc_v1_CancelJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  cancelJob(argument: _moc_v1_CancelJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  cancelJob(argument: _moc_v1_CancelJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  cancelJob(argument: _moc_v1_CancelJobRequest, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  
  /**
   * Goals (docs/jobs.md): their state follows their linked jobs and success criterion.
   */
  CreateGoal(argument: _moc_v1_CreateGoalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  CreateGoal(argument: _moc_v1_CreateGoalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  CreateGoal(argument: _moc_v1_CreateGoalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  CreateGoal(argument: _moc_v1_CreateGoalRequest, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  /**
   * Goals (docs/jobs.md): their state follows their linked jobs and success criterion.
   */
  createGoal(argument: _moc_v1_CreateGoalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  createGoal(argument: _moc_v1_CreateGoalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  createGoal(argument: _moc_v1_CreateGoalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  createGoal(argument: _moc_v1_CreateGoalRequest, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  
  /**
   * Devices with their memory ledgers and the models on them.
   */
  GetDevices(argument: _moc_v1_GetDevicesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_GetDevicesResponse__Output>): grpc.ClientUnaryCall;
  GetDevices(argument: _moc_v1_GetDevicesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_GetDevicesResponse__Output>): grpc.ClientUnaryCall;
  GetDevices(argument: _moc_v1_GetDevicesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_GetDevicesResponse__Output>): grpc.ClientUnaryCall;
  GetDevices(argument: _moc_v1_GetDevicesRequest, callback: grpc.requestCallback<_moc_v1_GetDevicesResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Devices with their memory ledgers and the models on them.
   */
  getDevices(argument: _moc_v1_GetDevicesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_GetDevicesResponse__Output>): grpc.ClientUnaryCall;
  getDevices(argument: _moc_v1_GetDevicesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_GetDevicesResponse__Output>): grpc.ClientUnaryCall;
  getDevices(argument: _moc_v1_GetDevicesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_GetDevicesResponse__Output>): grpc.ClientUnaryCall;
  getDevices(argument: _moc_v1_GetDevicesRequest, callback: grpc.requestCallback<_moc_v1_GetDevicesResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every host of the fleet registry (docs/fleet.md); this host alone with the embedded store.
   */
  GetFleet(argument: _moc_v1_GetFleetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_GetFleetResponse__Output>): grpc.ClientUnaryCall;
  GetFleet(argument: _moc_v1_GetFleetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_GetFleetResponse__Output>): grpc.ClientUnaryCall;
  GetFleet(argument: _moc_v1_GetFleetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_GetFleetResponse__Output>): grpc.ClientUnaryCall;
  GetFleet(argument: _moc_v1_GetFleetRequest, callback: grpc.requestCallback<_moc_v1_GetFleetResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Every host of the fleet registry (docs/fleet.md); this host alone with the embedded store.
   */
  getFleet(argument: _moc_v1_GetFleetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_GetFleetResponse__Output>): grpc.ClientUnaryCall;
  getFleet(argument: _moc_v1_GetFleetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_GetFleetResponse__Output>): grpc.ClientUnaryCall;
  getFleet(argument: _moc_v1_GetFleetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_GetFleetResponse__Output>): grpc.ClientUnaryCall;
  getFleet(argument: _moc_v1_GetFleetRequest, callback: grpc.requestCallback<_moc_v1_GetFleetResponse__Output>): grpc.ClientUnaryCall;
  
  GetGoal(argument: _moc_v1_GetGoalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  GetGoal(argument: _moc_v1_GetGoalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  GetGoal(argument: _moc_v1_GetGoalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  GetGoal(argument: _moc_v1_GetGoalRequest, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  getGoal(argument: _moc_v1_GetGoalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  getGoal(argument: _moc_v1_GetGoalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  getGoal(argument: _moc_v1_GetGoalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  getGoal(argument: _moc_v1_GetGoalRequest, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  
  GetJob(argument: _moc_v1_GetJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  GetJob(argument: _moc_v1_GetJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  GetJob(argument: _moc_v1_GetJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  GetJob(argument: _moc_v1_GetJobRequest, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  getJob(argument: _moc_v1_GetJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  getJob(argument: _moc_v1_GetJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  getJob(argument: _moc_v1_GetJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  getJob(argument: _moc_v1_GetJobRequest, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  
  /**
   * One model by name, or the model an alias points to.
   */
  GetModel(argument: _moc_v1_GetModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  GetModel(argument: _moc_v1_GetModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  GetModel(argument: _moc_v1_GetModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  GetModel(argument: _moc_v1_GetModelRequest, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  /**
   * One model by name, or the model an alias points to.
   */
  getModel(argument: _moc_v1_GetModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  getModel(argument: _moc_v1_GetModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  getModel(argument: _moc_v1_GetModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  getModel(argument: _moc_v1_GetModelRequest, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every committed version of a goal, oldest first.
   */
  GoalHistory(argument: _moc_v1_GetGoalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  GoalHistory(argument: _moc_v1_GetGoalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  GoalHistory(argument: _moc_v1_GetGoalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  GoalHistory(argument: _moc_v1_GetGoalRequest, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Every committed version of a goal, oldest first.
   */
  goalHistory(argument: _moc_v1_GetGoalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  goalHistory(argument: _moc_v1_GetGoalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  goalHistory(argument: _moc_v1_GetGoalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  goalHistory(argument: _moc_v1_GetGoalRequest, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * One completion, answered when generation ends.
   */
  Infer(argument: _moc_v1_InferRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_InferResponse__Output>): grpc.ClientUnaryCall;
  Infer(argument: _moc_v1_InferRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_InferResponse__Output>): grpc.ClientUnaryCall;
  Infer(argument: _moc_v1_InferRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_InferResponse__Output>): grpc.ClientUnaryCall;
  Infer(argument: _moc_v1_InferRequest, callback: grpc.requestCallback<_moc_v1_InferResponse__Output>): grpc.ClientUnaryCall;
  /**
   * One completion, answered when generation ends.
   */
  infer(argument: _moc_v1_InferRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_InferResponse__Output>): grpc.ClientUnaryCall;
  infer(argument: _moc_v1_InferRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_InferResponse__Output>): grpc.ClientUnaryCall;
  infer(argument: _moc_v1_InferRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_InferResponse__Output>): grpc.ClientUnaryCall;
  infer(argument: _moc_v1_InferRequest, callback: grpc.requestCallback<_moc_v1_InferResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Same request; text chunks as they are generated, then one final chunk with the summary.
   */
  InferStream(argument: _moc_v1_InferRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_moc_v1_InferChunk__Output>;
  InferStream(argument: _moc_v1_InferRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_moc_v1_InferChunk__Output>;
  /**
   * Same request; text chunks as they are generated, then one final chunk with the summary.
   */
  inferStream(argument: _moc_v1_InferRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_moc_v1_InferChunk__Output>;
  inferStream(argument: _moc_v1_InferRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_moc_v1_InferChunk__Output>;
  
  /**
   * By priority (highest first), then age.
   */
  ListGoals(argument: _moc_v1_ListGoalsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  ListGoals(argument: _moc_v1_ListGoalsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  ListGoals(argument: _moc_v1_ListGoalsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  ListGoals(argument: _moc_v1_ListGoalsRequest, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * By priority (highest first), then age.
   */
  listGoals(argument: _moc_v1_ListGoalsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  listGoals(argument: _moc_v1_ListGoalsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  listGoals(argument: _moc_v1_ListGoalsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  listGoals(argument: _moc_v1_ListGoalsRequest, callback: grpc.requestCallback<_moc_v1_ListGoalsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Newest first, at most `limit` (default 100).
   */
  ListJobs(argument: _moc_v1_ListJobsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  ListJobs(argument: _moc_v1_ListJobsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  ListJobs(argument: _moc_v1_ListJobsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  ListJobs(argument: _moc_v1_ListJobsRequest, callback: grpc.requestCallback<_moc_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Newest first, at most `limit` (default 100).
   */
  listJobs(argument: _moc_v1_ListJobsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  listJobs(argument: _moc_v1_ListJobsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  listJobs(argument: _moc_v1_ListJobsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  listJobs(argument: _moc_v1_ListJobsRequest, callback: grpc.requestCallback<_moc_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  
  ListModels(argument: _moc_v1_ListModelsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _moc_v1_ListModelsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _moc_v1_ListModelsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _moc_v1_ListModelsRequest, callback: grpc.requestCallback<_moc_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _moc_v1_ListModelsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _moc_v1_ListModelsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _moc_v1_ListModelsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _moc_v1_ListModelsRequest, callback: grpc.requestCallback<_moc_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Load a registered model (or, with a path, register and load). Placement, eviction: docs/models.md.
   */
  LoadModel(argument: _moc_v1_LoadModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  LoadModel(argument: _moc_v1_LoadModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  LoadModel(argument: _moc_v1_LoadModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  LoadModel(argument: _moc_v1_LoadModelRequest, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  /**
   * Load a registered model (or, with a path, register and load). Placement, eviction: docs/models.md.
   */
  loadModel(argument: _moc_v1_LoadModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  loadModel(argument: _moc_v1_LoadModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  loadModel(argument: _moc_v1_LoadModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  loadModel(argument: _moc_v1_LoadModelRequest, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  
  PinModel(argument: _moc_v1_PinModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  PinModel(argument: _moc_v1_PinModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  PinModel(argument: _moc_v1_PinModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  PinModel(argument: _moc_v1_PinModelRequest, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  pinModel(argument: _moc_v1_PinModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  pinModel(argument: _moc_v1_PinModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  pinModel(argument: _moc_v1_PinModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  pinModel(argument: _moc_v1_PinModelRequest, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  
  /**
   * Rate an answer, or record a preference between two, for RLHF datasets (export-feedback jobs).
   */
  RecordFeedback(argument: _moc_v1_RecordFeedbackRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Feedback__Output>): grpc.ClientUnaryCall;
  RecordFeedback(argument: _moc_v1_RecordFeedbackRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Feedback__Output>): grpc.ClientUnaryCall;
  RecordFeedback(argument: _moc_v1_RecordFeedbackRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Feedback__Output>): grpc.ClientUnaryCall;
  RecordFeedback(argument: _moc_v1_RecordFeedbackRequest, callback: grpc.requestCallback<_moc_v1_Feedback__Output>): grpc.ClientUnaryCall;
  /**
   * Rate an answer, or record a preference between two, for RLHF datasets (export-feedback jobs).
   */
  recordFeedback(argument: _moc_v1_RecordFeedbackRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Feedback__Output>): grpc.ClientUnaryCall;
  recordFeedback(argument: _moc_v1_RecordFeedbackRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Feedback__Output>): grpc.ClientUnaryCall;
  recordFeedback(argument: _moc_v1_RecordFeedbackRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Feedback__Output>): grpc.ClientUnaryCall;
  recordFeedback(argument: _moc_v1_RecordFeedbackRequest, callback: grpc.requestCallback<_moc_v1_Feedback__Output>): grpc.ClientUnaryCall;
  
  /**
   * Add a model file to the catalog (GGUF header validated, sha256) without loading it.
   */
  RegisterModel(argument: _moc_v1_RegisterModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  RegisterModel(argument: _moc_v1_RegisterModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  RegisterModel(argument: _moc_v1_RegisterModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  RegisterModel(argument: _moc_v1_RegisterModelRequest, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  /**
   * Add a model file to the catalog (GGUF header validated, sha256) without loading it.
   */
  registerModel(argument: _moc_v1_RegisterModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  registerModel(argument: _moc_v1_RegisterModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  registerModel(argument: _moc_v1_RegisterModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  registerModel(argument: _moc_v1_RegisterModelRequest, callback: grpc.requestCallback<_moc_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  
  /**
   * Point an alias at a model; re-pointing a serving alias is a hot swap (new loads, switch, old drains).
   */
  SetAlias(argument: _moc_v1_SetAliasRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_SetAliasResponse__Output>): grpc.ClientUnaryCall;
  SetAlias(argument: _moc_v1_SetAliasRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_SetAliasResponse__Output>): grpc.ClientUnaryCall;
  SetAlias(argument: _moc_v1_SetAliasRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_SetAliasResponse__Output>): grpc.ClientUnaryCall;
  SetAlias(argument: _moc_v1_SetAliasRequest, callback: grpc.requestCallback<_moc_v1_SetAliasResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Point an alias at a model; re-pointing a serving alias is a hot swap (new loads, switch, old drains).
   */
  setAlias(argument: _moc_v1_SetAliasRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_SetAliasResponse__Output>): grpc.ClientUnaryCall;
  setAlias(argument: _moc_v1_SetAliasRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_SetAliasResponse__Output>): grpc.ClientUnaryCall;
  setAlias(argument: _moc_v1_SetAliasRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_SetAliasResponse__Output>): grpc.ClientUnaryCall;
  setAlias(argument: _moc_v1_SetAliasRequest, callback: grpc.requestCallback<_moc_v1_SetAliasResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Learning jobs (docs/jobs.md): acknowledged once durable; the same request_id from the same key returns the first job.
   */
  SubmitJob(argument: _moc_v1_SubmitJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  SubmitJob(argument: _moc_v1_SubmitJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  SubmitJob(argument: _moc_v1_SubmitJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  SubmitJob(argument: _moc_v1_SubmitJobRequest, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  /**
   * Learning jobs (docs/jobs.md): acknowledged once durable; the same request_id from the same key returns the first job.
   */
  submitJob(argument: _moc_v1_SubmitJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  submitJob(argument: _moc_v1_SubmitJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  submitJob(argument: _moc_v1_SubmitJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  submitJob(argument: _moc_v1_SubmitJobRequest, callback: grpc.requestCallback<_moc_v1_Job__Output>): grpc.ClientUnaryCall;
  
  UnloadModel(argument: _moc_v1_UnloadModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_UnloadModelResponse__Output>): grpc.ClientUnaryCall;
  UnloadModel(argument: _moc_v1_UnloadModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_UnloadModelResponse__Output>): grpc.ClientUnaryCall;
  UnloadModel(argument: _moc_v1_UnloadModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_UnloadModelResponse__Output>): grpc.ClientUnaryCall;
  UnloadModel(argument: _moc_v1_UnloadModelRequest, callback: grpc.requestCallback<_moc_v1_UnloadModelResponse__Output>): grpc.ClientUnaryCall;
  unloadModel(argument: _moc_v1_UnloadModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_UnloadModelResponse__Output>): grpc.ClientUnaryCall;
  unloadModel(argument: _moc_v1_UnloadModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_UnloadModelResponse__Output>): grpc.ClientUnaryCall;
  unloadModel(argument: _moc_v1_UnloadModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_UnloadModelResponse__Output>): grpc.ClientUnaryCall;
  unloadModel(argument: _moc_v1_UnloadModelRequest, callback: grpc.requestCallback<_moc_v1_UnloadModelResponse__Output>): grpc.ClientUnaryCall;
  
  UpdateGoal(argument: _moc_v1_UpdateGoalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  UpdateGoal(argument: _moc_v1_UpdateGoalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  UpdateGoal(argument: _moc_v1_UpdateGoalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  UpdateGoal(argument: _moc_v1_UpdateGoalRequest, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  updateGoal(argument: _moc_v1_UpdateGoalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  updateGoal(argument: _moc_v1_UpdateGoalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  updateGoal(argument: _moc_v1_UpdateGoalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  updateGoal(argument: _moc_v1_UpdateGoalRequest, callback: grpc.requestCallback<_moc_v1_Goal__Output>): grpc.ClientUnaryCall;
  
  /**
   * The job now, then its changes (at most ten a second, the latest), until it ends: then the stream closes (OK).
   */
  WatchJob(argument: _moc_v1_GetJobRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_moc_v1_Job__Output>;
  WatchJob(argument: _moc_v1_GetJobRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_moc_v1_Job__Output>;
  /**
   * The job now, then its changes (at most ten a second, the latest), until it ends: then the stream closes (OK).
   */
  watchJob(argument: _moc_v1_GetJobRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_moc_v1_Job__Output>;
  watchJob(argument: _moc_v1_GetJobRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_moc_v1_Job__Output>;
  
  /**
   * The current models, then every state change as it happens (loads in progress included), until cancelled.
   */
  WatchModels(argument: _moc_v1_WatchModelsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_moc_v1_ModelInfo__Output>;
  WatchModels(argument: _moc_v1_WatchModelsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_moc_v1_ModelInfo__Output>;
  /**
   * The current models, then every state change as it happens (loads in progress included), until cancelled.
   */
  watchModels(argument: _moc_v1_WatchModelsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_moc_v1_ModelInfo__Output>;
  watchModels(argument: _moc_v1_WatchModelsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_moc_v1_ModelInfo__Output>;
  
}

export interface ModelOpsHandlers extends grpc.UntypedServiceImplementation {
  CancelGoal: grpc.handleUnaryCall<_moc_v1_GetGoalRequest__Output, _moc_v1_Goal>;
  
  /**
   * Queued: cancelled at once. Running: stopped (a trainer gets SIGTERM, then SIGKILL); cancel_requested until it ended.
   */
  CancelJob: grpc.handleUnaryCall<_moc_v1_CancelJobRequest__Output, _moc_v1_Job>;
  
  /**
   * Goals (docs/jobs.md): their state follows their linked jobs and success criterion.
   */
  CreateGoal: grpc.handleUnaryCall<_moc_v1_CreateGoalRequest__Output, _moc_v1_Goal>;
  
  /**
   * Devices with their memory ledgers and the models on them.
   */
  GetDevices: grpc.handleUnaryCall<_moc_v1_GetDevicesRequest__Output, _moc_v1_GetDevicesResponse>;
  
  /**
   * Every host of the fleet registry (docs/fleet.md); this host alone with the embedded store.
   */
  GetFleet: grpc.handleUnaryCall<_moc_v1_GetFleetRequest__Output, _moc_v1_GetFleetResponse>;
  
  GetGoal: grpc.handleUnaryCall<_moc_v1_GetGoalRequest__Output, _moc_v1_Goal>;
  
  GetJob: grpc.handleUnaryCall<_moc_v1_GetJobRequest__Output, _moc_v1_Job>;
  
  /**
   * One model by name, or the model an alias points to.
   */
  GetModel: grpc.handleUnaryCall<_moc_v1_GetModelRequest__Output, _moc_v1_ModelInfo>;
  
  /**
   * Every committed version of a goal, oldest first.
   */
  GoalHistory: grpc.handleUnaryCall<_moc_v1_GetGoalRequest__Output, _moc_v1_ListGoalsResponse>;
  
  /**
   * One completion, answered when generation ends.
   */
  Infer: grpc.handleUnaryCall<_moc_v1_InferRequest__Output, _moc_v1_InferResponse>;
  
  /**
   * Same request; text chunks as they are generated, then one final chunk with the summary.
   */
  InferStream: grpc.handleServerStreamingCall<_moc_v1_InferRequest__Output, _moc_v1_InferChunk>;
  
  /**
   * By priority (highest first), then age.
   */
  ListGoals: grpc.handleUnaryCall<_moc_v1_ListGoalsRequest__Output, _moc_v1_ListGoalsResponse>;
  
  /**
   * Newest first, at most `limit` (default 100).
   */
  ListJobs: grpc.handleUnaryCall<_moc_v1_ListJobsRequest__Output, _moc_v1_ListJobsResponse>;
  
  ListModels: grpc.handleUnaryCall<_moc_v1_ListModelsRequest__Output, _moc_v1_ListModelsResponse>;
  
  /**
   * Load a registered model (or, with a path, register and load). Placement, eviction: docs/models.md.
   */
  LoadModel: grpc.handleUnaryCall<_moc_v1_LoadModelRequest__Output, _moc_v1_ModelInfo>;
  
  PinModel: grpc.handleUnaryCall<_moc_v1_PinModelRequest__Output, _moc_v1_ModelInfo>;
  
  /**
   * Rate an answer, or record a preference between two, for RLHF datasets (export-feedback jobs).
   */
  RecordFeedback: grpc.handleUnaryCall<_moc_v1_RecordFeedbackRequest__Output, _moc_v1_Feedback>;
  
  /**
   * Add a model file to the catalog (GGUF header validated, sha256) without loading it.
   */
  RegisterModel: grpc.handleUnaryCall<_moc_v1_RegisterModelRequest__Output, _moc_v1_ModelInfo>;
  
  /**
   * Point an alias at a model; re-pointing a serving alias is a hot swap (new loads, switch, old drains).
   */
  SetAlias: grpc.handleUnaryCall<_moc_v1_SetAliasRequest__Output, _moc_v1_SetAliasResponse>;
  
  /**
   * Learning jobs (docs/jobs.md): acknowledged once durable; the same request_id from the same key returns the first job.
   */
  SubmitJob: grpc.handleUnaryCall<_moc_v1_SubmitJobRequest__Output, _moc_v1_Job>;
  
  UnloadModel: grpc.handleUnaryCall<_moc_v1_UnloadModelRequest__Output, _moc_v1_UnloadModelResponse>;
  
  UpdateGoal: grpc.handleUnaryCall<_moc_v1_UpdateGoalRequest__Output, _moc_v1_Goal>;
  
  /**
   * The job now, then its changes (at most ten a second, the latest), until it ends: then the stream closes (OK).
   */
  WatchJob: grpc.handleServerStreamingCall<_moc_v1_GetJobRequest__Output, _moc_v1_Job>;
  
  /**
   * The current models, then every state change as it happens (loads in progress included), until cancelled.
   */
  WatchModels: grpc.handleServerStreamingCall<_moc_v1_WatchModelsRequest__Output, _moc_v1_ModelInfo>;
  
}

export interface ModelOpsDefinition extends grpc.ServiceDefinition {
  CancelGoal: MethodDefinition<_moc_v1_GetGoalRequest, _moc_v1_Goal, _moc_v1_GetGoalRequest__Output, _moc_v1_Goal__Output>
  CancelJob: MethodDefinition<_moc_v1_CancelJobRequest, _moc_v1_Job, _moc_v1_CancelJobRequest__Output, _moc_v1_Job__Output>
  CreateGoal: MethodDefinition<_moc_v1_CreateGoalRequest, _moc_v1_Goal, _moc_v1_CreateGoalRequest__Output, _moc_v1_Goal__Output>
  GetDevices: MethodDefinition<_moc_v1_GetDevicesRequest, _moc_v1_GetDevicesResponse, _moc_v1_GetDevicesRequest__Output, _moc_v1_GetDevicesResponse__Output>
  GetFleet: MethodDefinition<_moc_v1_GetFleetRequest, _moc_v1_GetFleetResponse, _moc_v1_GetFleetRequest__Output, _moc_v1_GetFleetResponse__Output>
  GetGoal: MethodDefinition<_moc_v1_GetGoalRequest, _moc_v1_Goal, _moc_v1_GetGoalRequest__Output, _moc_v1_Goal__Output>
  GetJob: MethodDefinition<_moc_v1_GetJobRequest, _moc_v1_Job, _moc_v1_GetJobRequest__Output, _moc_v1_Job__Output>
  GetModel: MethodDefinition<_moc_v1_GetModelRequest, _moc_v1_ModelInfo, _moc_v1_GetModelRequest__Output, _moc_v1_ModelInfo__Output>
  GoalHistory: MethodDefinition<_moc_v1_GetGoalRequest, _moc_v1_ListGoalsResponse, _moc_v1_GetGoalRequest__Output, _moc_v1_ListGoalsResponse__Output>
  Infer: MethodDefinition<_moc_v1_InferRequest, _moc_v1_InferResponse, _moc_v1_InferRequest__Output, _moc_v1_InferResponse__Output>
  InferStream: MethodDefinition<_moc_v1_InferRequest, _moc_v1_InferChunk, _moc_v1_InferRequest__Output, _moc_v1_InferChunk__Output>
  ListGoals: MethodDefinition<_moc_v1_ListGoalsRequest, _moc_v1_ListGoalsResponse, _moc_v1_ListGoalsRequest__Output, _moc_v1_ListGoalsResponse__Output>
  ListJobs: MethodDefinition<_moc_v1_ListJobsRequest, _moc_v1_ListJobsResponse, _moc_v1_ListJobsRequest__Output, _moc_v1_ListJobsResponse__Output>
  ListModels: MethodDefinition<_moc_v1_ListModelsRequest, _moc_v1_ListModelsResponse, _moc_v1_ListModelsRequest__Output, _moc_v1_ListModelsResponse__Output>
  LoadModel: MethodDefinition<_moc_v1_LoadModelRequest, _moc_v1_ModelInfo, _moc_v1_LoadModelRequest__Output, _moc_v1_ModelInfo__Output>
  PinModel: MethodDefinition<_moc_v1_PinModelRequest, _moc_v1_ModelInfo, _moc_v1_PinModelRequest__Output, _moc_v1_ModelInfo__Output>
  RecordFeedback: MethodDefinition<_moc_v1_RecordFeedbackRequest, _moc_v1_Feedback, _moc_v1_RecordFeedbackRequest__Output, _moc_v1_Feedback__Output>
  RegisterModel: MethodDefinition<_moc_v1_RegisterModelRequest, _moc_v1_ModelInfo, _moc_v1_RegisterModelRequest__Output, _moc_v1_ModelInfo__Output>
  SetAlias: MethodDefinition<_moc_v1_SetAliasRequest, _moc_v1_SetAliasResponse, _moc_v1_SetAliasRequest__Output, _moc_v1_SetAliasResponse__Output>
  SubmitJob: MethodDefinition<_moc_v1_SubmitJobRequest, _moc_v1_Job, _moc_v1_SubmitJobRequest__Output, _moc_v1_Job__Output>
  UnloadModel: MethodDefinition<_moc_v1_UnloadModelRequest, _moc_v1_UnloadModelResponse, _moc_v1_UnloadModelRequest__Output, _moc_v1_UnloadModelResponse__Output>
  UpdateGoal: MethodDefinition<_moc_v1_UpdateGoalRequest, _moc_v1_Goal, _moc_v1_UpdateGoalRequest__Output, _moc_v1_Goal__Output>
  WatchJob: MethodDefinition<_moc_v1_GetJobRequest, _moc_v1_Job, _moc_v1_GetJobRequest__Output, _moc_v1_Job__Output>
  WatchModels: MethodDefinition<_moc_v1_WatchModelsRequest, _moc_v1_ModelInfo, _moc_v1_WatchModelsRequest__Output, _moc_v1_ModelInfo__Output>
}
